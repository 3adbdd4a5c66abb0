;; memory-bomb: grows memory one page (64 KiB) at a time and touches each new page, until
;; memory.grow fails (returns -1: the runtime caps the maximum); then it traps, as an allocator that
;; aborts on out-of-memory does. The runtime must report a memory-limit error and keep serving.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (local $old i32)
    (loop $grow
      (local.set $old (memory.grow (i32.const 1)))
      (if (i32.eq (local.get $old) (i32.const -1))
        (then unreachable))
      ;; touch the first byte of the new page so the host really commits it
      (i32.store8 (i32.shl (local.get $old) (i32.const 16)) (i32.const 1))
      (br $grow))))

;; echo: copies stdin to stdout. The smallest real WASI preview 1 command: used to measure the
;; runtime's per-call overhead and to exercise the input and output limits.
;;
;; Memory: [0, 16) iovec and result scratch; [65536, …) the input, grown one chunk at a time.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)

  ;; Reads stdin to EOF into [65536, 65536 + len) and returns len. Grows memory so that a whole
  ;; 64 KiB chunk always fits after the data; traps when memory cannot grow.
  (func $read_all (result i32)
    (local $len i32) (local $n i32) (local $need i32)
    (block $eof
      (loop $more
        ;; pages needed for base (64 KiB) + len + one chunk (64 KiB), rounded up
        (local.set $need (i32.shr_u (i32.add (local.get $len) (i32.const 196607)) (i32.const 16)))
        (if (i32.gt_u (local.get $need) (memory.size))
          (then
            (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
              (then unreachable))))
        (i32.store (i32.const 0) (i32.add (i32.const 65536) (local.get $len)))
        (i32.store (i32.const 4) (i32.const 65536))
        (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 74)) unreachable))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $n)))
        (local.set $len (i32.add (local.get $len) (local.get $n)))
        (br $more)))
    (local.get $len))

  ;; Writes [ptr, ptr + len) to fd, retrying short writes; exits 74 on an error or a zero-length write.
  (func $write_all (param $fd i32) (param $ptr i32) (param $len i32)
    (local $n i32)
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $len)))
        (i32.store (i32.const 0) (local.get $ptr))
        (i32.store (i32.const 4) (local.get $len))
        (if (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 74)) unreachable))
        (local.set $n (i32.load (i32.const 8)))
        (if (i32.eqz (local.get $n)) (then (call $proc_exit (i32.const 74)) unreachable))
        (local.set $ptr (i32.add (local.get $ptr) (local.get $n)))
        (local.set $len (i32.sub (local.get $len) (local.get $n)))
        (br $more))))

  (func (export "_start")
    (call $write_all (i32.const 1) (i32.const 65536) (call $read_all))))

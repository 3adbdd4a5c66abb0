;; transform: a byte transform plus a checksum. Output = the FNV-1a 32-bit hash of the input as
;; 8 lowercase hex digits, a newline, then the input with ASCII a-z upper-cased.
;; FNV-1a: offset basis 0x811c9dc5, prime 0x01000193 (draft-eastlake-fnv, section 2).
;;
;; Memory: [0, 16) iovec and result scratch; [16, 25) hex digits + newline; [65536, …) the input.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 32) "0123456789abcdef")

  (func $read_all (result i32)
    (local $len i32) (local $n i32) (local $need i32)
    (block $eof
      (loop $more
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
    (local $len i32) (local $p i32) (local $end i32) (local $c i32) (local $h i32) (local $i i32)
    (local.set $len (call $read_all))
    (local.set $p (i32.const 65536))
    (local.set $end (i32.add (i32.const 65536) (local.get $len)))
    (local.set $h (i32.const 0x811c9dc5))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        (local.set $h (i32.mul (i32.xor (local.get $h) (local.get $c)) (i32.const 0x01000193)))
        ;; 'a' = 97 .. 'z' = 122 → subtract 32
        (if (i32.le_u (i32.sub (local.get $c) (i32.const 97)) (i32.const 25))
          (then (i32.store8 (local.get $p) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $each)))
    ;; hex digits, most significant nibble first
    (block $hexed
      (loop $nibble
        (br_if $hexed (i32.ge_u (local.get $i) (i32.const 8)))
        (i32.store8 (i32.add (i32.const 16) (local.get $i))
          (i32.load8_u (i32.add (i32.const 32)
            (i32.and (i32.shr_u (local.get $h) (i32.sub (i32.const 28) (i32.shl (local.get $i) (i32.const 2))))
              (i32.const 15)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $nibble)))
    (i32.store8 (i32.const 24) (i32.const 10))
    (call $write_all (i32.const 1) (i32.const 16) (i32.const 9))
    (call $write_all (i32.const 1) (i32.const 65536) (local.get $len))))

;; greet: writes "hello, " and stdin to stdout, and a line about it to stderr, then exits 0. Shows a
;; successful function's stderr travelling back to the caller (sealed, beside the output).
;;
;; Memory: [0, 16) iovec and result scratch; [16, 64) the fixed strings; [65536, 131072) stdin
;; (up to 64 KiB; the rest is not read).
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "hello, ")
  (data (i32.const 32) "greet: said hello\0a")

  ;; Reads stdin to EOF or until [65536, 131072) is full; returns the length.
  (func $read_all (result i32)
    (local $len i32) (local $n i32)
    (block $eof
      (loop $more
        (br_if $eof (i32.ge_u (local.get $len) (i32.const 65536)))
        (i32.store (i32.const 0) (i32.add (i32.const 65536) (local.get $len)))
        (i32.store (i32.const 4) (i32.sub (i32.const 65536) (local.get $len)))
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
    (local $len i32)
    (local.set $len (call $read_all))
    (call $write_all (i32.const 1) (i32.const 16) (i32.const 7))
    (call $write_all (i32.const 1) (i32.const 65536) (local.get $len))
    (call $write_all (i32.const 2) (i32.const 32) (i32.const 18))))

;; matmul: integer matrix multiply C = A·B, the work of a Freivalds capacity challenge
;; (ARCHITECTURE.md, "Witness checks").
;; Input:  n (u32 LE), then A and B, each n×n int32 little-endian in row-major order.
;; Output: C, n×n int32 little-endian row-major; arithmetic wraps modulo 2^32.
;; A wrong input length (or n > 4096) writes a message to stderr and exits with code 2.
;;
;; Memory: [0, 16) iovec scratch; [16, 64) messages; [65536, …) input, then C right after it.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "matmul: bad input length\n")

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

  (func $bad_input
    (call $write_all (i32.const 2) (i32.const 16) (i32.const 25))
    (call $proc_exit (i32.const 2))
    unreachable)

  (func (export "_start")
    (local $len i32) (local $n i32) (local $nn4 i32) (local $a i32) (local $b i32) (local $c i32)
    (local $i i32) (local $j i32) (local $k i32) (local $aik i32) (local $crow i32) (local $brow i32)
    (local $need i32)
    (local.set $len (call $read_all))
    (if (i32.lt_u (local.get $len) (i32.const 4)) (then (call $bad_input)))
    (local.set $n (i32.load (i32.const 65536)))
    (if (i32.gt_u (local.get $n) (i32.const 4096)) (then (call $bad_input)))
    (local.set $nn4 (i32.shl (i32.mul (local.get $n) (local.get $n)) (i32.const 2)))
    (if (i32.ne (local.get $len) (i32.add (i32.const 4) (i32.shl (local.get $nn4) (i32.const 1))))
      (then (call $bad_input)))
    (local.set $a (i32.const 65540))
    (local.set $b (i32.add (local.get $a) (local.get $nn4)))
    (local.set $c (i32.add (local.get $b) (local.get $nn4)))
    ;; make room for C (pages needed for c + nn4, rounded up)
    (local.set $need (i32.shr_u (i32.add (i32.add (local.get $c) (local.get $nn4)) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
          (then unreachable))))
    ;; i-k-j order: C[i][·] += A[i][k] · B[k][·], rows walked sequentially
    (block $i_done
      (loop $i_loop
        (br_if $i_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $crow (i32.add (local.get $c) (i32.shl (i32.mul (local.get $i) (local.get $n)) (i32.const 2))))
        (local.set $j (i32.const 0))
        (block $z_done
          (loop $z_loop
            (br_if $z_done (i32.ge_u (local.get $j) (local.get $n)))
            (i32.store (i32.add (local.get $crow) (i32.shl (local.get $j) (i32.const 2))) (i32.const 0))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $z_loop)))
        (local.set $k (i32.const 0))
        (block $k_done
          (loop $k_loop
            (br_if $k_done (i32.ge_u (local.get $k) (local.get $n)))
            (local.set $aik (i32.load (i32.add (local.get $a)
              (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $k)) (i32.const 2)))))
            (local.set $brow (i32.add (local.get $b) (i32.shl (i32.mul (local.get $k) (local.get $n)) (i32.const 2))))
            (local.set $j (i32.const 0))
            (block $j_done
              (loop $j_loop
                (br_if $j_done (i32.ge_u (local.get $j) (local.get $n)))
                (i32.store (i32.add (local.get $crow) (i32.shl (local.get $j) (i32.const 2)))
                  (i32.add
                    (i32.load (i32.add (local.get $crow) (i32.shl (local.get $j) (i32.const 2))))
                    (i32.mul (local.get $aik)
                      (i32.load (i32.add (local.get $brow) (i32.shl (local.get $j) (i32.const 2)))))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $j_loop)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $k_loop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $i_loop)))
    (call $write_all (i32.const 1) (local.get $c) (local.get $nn4))))

;; The executor's capacity-challenge kernel: C = A·B for byte matrices, exact in int32 (engine.ts).
;; Built to matmul.wasm by examples/build-kernels.ts; engine.test.ts checks the committed binary is this source.
;;
;; All three functions work in one shared memory that engine.ts lays out per product:
;;   A panels: rows of A in pairs, i16, k in chunks of 8: panel p, chunk t holds
;;             A[2p][8t..8t+7] then A[2p+1][8t..8t+7]            (32 bytes per chunk)
;;   B panels: columns of B in fours, i16, k in chunks of 8: panel q, chunk t holds
;;             B[8t..8t+7][4q], …, B[8t..8t+7][4q+3]              (64 bytes per chunk)
;;   C:        int32, row-major, `ldc` bytes per row (the column count rounded up to 4).
;; `kc` is the number of chunks (n rounded up to 8, over 8). The byte staging copies pack_a / pack_b
;; read are zero-padded to whole panels and chunks, so the kernel has no edge cases.
;;
;; Kernel: each 2×4 tile of C keeps eight i32x4 accumulators; one step loads 2 A vectors and 4 B
;; vectors (8 k each) and does eight i32x4.dot_i16x8_s (8 products, adjacent pairs summed; entries
;; 0..255 are exact as i16 and a pair sum is below 2^17); the lanes are summed once per tile.
;; Every entry of C is at most n·255² < 2^31 (n ≤ 4096), so no lane overflows.
(module
  (memory (import "env" "memory") 1 4096 shared)

  ;; [sum c0, sum c1, sum c2, sum c3]: the lane sums of four i32x4 accumulators.
  (func $hsum4 (param $c0 v128) (param $c1 v128) (param $c2 v128) (param $c3 v128) (result v128)
    (local $t0 v128) (local $t1 v128)
    (local.set $t0 (i32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c0) (local.get $c1))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c0) (local.get $c1))))
    (local.set $t1 (i32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c2) (local.get $c3))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c2) (local.get $c3))))
    (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1))))

  ;; A panels [p0, p1) from the byte rows at $src (row stride kc·8 bytes) into $dst.
  (func (export "pack_a") (param $src i32) (param $dst i32) (param $kc i32) (param $p0 i32) (param $p1 i32)
    (local $i i32) (local $i1 i32) (local $s i32) (local $d i32) (local $t i32)
    (local.set $i (i32.shl (local.get $p0) (i32.const 1)))
    (local.set $i1 (i32.shl (local.get $p1) (i32.const 1)))
    (block $done (loop $each_row
      (br_if $done (i32.ge_u (local.get $i) (local.get $i1)))
      (local.set $s (i32.add (local.get $src) (i32.mul (local.get $i) (i32.shl (local.get $kc) (i32.const 3)))))
      ;; panel i/2 starts at (i/2)·kc·32; the odd row of a pair is 16 bytes into each chunk
      (local.set $d (i32.add (local.get $dst) (i32.add
        (i32.mul (i32.shr_u (local.get $i) (i32.const 1)) (i32.shl (local.get $kc) (i32.const 5)))
        (i32.shl (i32.and (local.get $i) (i32.const 1)) (i32.const 4)))))
      (local.set $t (local.get $kc))
      (loop $each_chunk
        (v128.store (local.get $d) (v128.load8x8_u (local.get $s)))
        (local.set $s (i32.add (local.get $s) (i32.const 8)))
        (local.set $d (i32.add (local.get $d) (i32.const 32)))
        (br_if $each_chunk (local.tee $t (i32.sub (local.get $t) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each_row))))

  ;; B panels [q0, q1) from the byte rows at $src (kc·8 rows, row stride $ldb bytes) into $dst.
  (func (export "pack_b") (param $src i32) (param $dst i32) (param $kc i32) (param $ldb i32) (param $q0 i32) (param $q1 i32)
    (local $q i32) (local $s i32) (local $d i32) (local $t i32) (local $lo v128) (local $hi v128) (local $v v128)
    (local.set $q (local.get $q0))
    (block $done (loop $each_panel
      (br_if $done (i32.ge_u (local.get $q) (local.get $q1)))
      (local.set $s (i32.add (local.get $src) (i32.shl (local.get $q) (i32.const 2))))
      (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $q) (i32.shl (local.get $kc) (i32.const 6)))))
      (local.set $t (local.get $kc))
      (loop $each_chunk
        ;; eight rows k of four bytes B[k][4q..4q+3]: $lo holds k = 0..3, $hi k = 4..7 (byte 4k + r)
        (local.set $lo (v128.load32_zero (local.get $s)))
        (local.set $lo (v128.load32_lane 1 (i32.add (local.get $s) (local.get $ldb)) (local.get $lo)))
        (local.set $lo (v128.load32_lane 2 (i32.add (local.get $s) (i32.shl (local.get $ldb) (i32.const 1))) (local.get $lo)))
        (local.set $lo (v128.load32_lane 3 (i32.add (local.get $s) (i32.mul (local.get $ldb) (i32.const 3))) (local.get $lo)))
        (local.set $s (i32.add (local.get $s) (i32.shl (local.get $ldb) (i32.const 2))))
        (local.set $hi (v128.load32_zero (local.get $s)))
        (local.set $hi (v128.load32_lane 1 (i32.add (local.get $s) (local.get $ldb)) (local.get $hi)))
        (local.set $hi (v128.load32_lane 2 (i32.add (local.get $s) (i32.shl (local.get $ldb) (i32.const 1))) (local.get $hi)))
        (local.set $hi (v128.load32_lane 3 (i32.add (local.get $s) (i32.mul (local.get $ldb) (i32.const 3))) (local.get $hi)))
        (local.set $s (i32.add (local.get $s) (i32.shl (local.get $ldb) (i32.const 2))))
        ;; transpose: columns r = 0, 1 (eight k each), then r = 2, 3; widened to i16
        (local.set $v (i8x16.shuffle 0 4 8 12 16 20 24 28 1 5 9 13 17 21 25 29 (local.get $lo) (local.get $hi)))
        (v128.store offset=0 (local.get $d) (i16x8.extend_low_i8x16_u (local.get $v)))
        (v128.store offset=16 (local.get $d) (i16x8.extend_high_i8x16_u (local.get $v)))
        (local.set $v (i8x16.shuffle 2 6 10 14 18 22 26 30 3 7 11 15 19 23 27 31 (local.get $lo) (local.get $hi)))
        (v128.store offset=32 (local.get $d) (i16x8.extend_low_i8x16_u (local.get $v)))
        (v128.store offset=48 (local.get $d) (i16x8.extend_high_i8x16_u (local.get $v)))
        (local.set $d (i32.add (local.get $d) (i32.const 64)))
        (br_if $each_chunk (local.tee $t (i32.sub (local.get $t) (i32.const 1)))))
      (local.set $q (i32.add (local.get $q) (i32.const 1)))
      (br $each_panel))))
  ;; Rows of C for A panels [p0, p1) against all $nq B panels, taken $qb B panels at a time (so a
  ;; block of B stays in cache while the A panels stream past it).
  (func (export "matmul") (param $a i32) (param $b i32) (param $c i32) (param $kc i32) (param $ldc i32)
      (param $p0 i32) (param $p1 i32) (param $nq i32) (param $qb i32)
    (local $q0 i32) (local $q1 i32) (local $p i32) (local $q i32) (local $pa i32) (local $pb i32) (local $k i32) (local $out i32)
    (local $c0_0 v128) (local $c0_1 v128) (local $c0_2 v128) (local $c0_3 v128) (local $c1_0 v128) (local $c1_1 v128) (local $c1_2 v128) (local $c1_3 v128) (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local.set $q0 (i32.const 0))
    (block $done_q (loop $each_qblock
      (br_if $done_q (i32.ge_u (local.get $q0) (local.get $nq)))
      (local.set $q1 (select (i32.add (local.get $q0) (local.get $qb)) (local.get $nq)
        (i32.lt_u (i32.add (local.get $q0) (local.get $qb)) (local.get $nq))))
      (local.set $p (local.get $p0))
      (block $done_p (loop $each_p
        (br_if $done_p (i32.ge_u (local.get $p) (local.get $p1)))
        (local.set $q (local.get $q0))
        (block $done_qq (loop $each_q
          (br_if $done_qq (i32.ge_u (local.get $q) (local.get $q1)))
          (local.set $pa (i32.add (local.get $a) (i32.mul (local.get $p) (i32.mul (local.get $kc) (i32.const 32)))))
          (local.set $pb (i32.add (local.get $b) (i32.mul (local.get $q) (i32.mul (local.get $kc) (i32.const 64)))))
          (local.set $c0_0 (v128.const i32x4 0 0 0 0))
          (local.set $c0_1 (v128.const i32x4 0 0 0 0))
          (local.set $c0_2 (v128.const i32x4 0 0 0 0))
          (local.set $c0_3 (v128.const i32x4 0 0 0 0))
          (local.set $c1_0 (v128.const i32x4 0 0 0 0))
          (local.set $c1_1 (v128.const i32x4 0 0 0 0))
          (local.set $c1_2 (v128.const i32x4 0 0 0 0))
          (local.set $c1_3 (v128.const i32x4 0 0 0 0))
          (local.set $k (local.get $kc))
          (loop $each_k
            (local.set $a0 (v128.load offset=0 (local.get $pa)))
            (local.set $a1 (v128.load offset=16 (local.get $pa)))
            (local.set $b0 (v128.load offset=0 (local.get $pb)))
            (local.set $b1 (v128.load offset=16 (local.get $pb)))
            (local.set $b2 (v128.load offset=32 (local.get $pb)))
            (local.set $b3 (v128.load offset=48 (local.get $pb)))
            (local.set $c0_0 (i32x4.add (local.get $c0_0) (i32x4.dot_i16x8_s (local.get $a0) (local.get $b0))))
            (local.set $c1_0 (i32x4.add (local.get $c1_0) (i32x4.dot_i16x8_s (local.get $a1) (local.get $b0))))
            (local.set $c0_1 (i32x4.add (local.get $c0_1) (i32x4.dot_i16x8_s (local.get $a0) (local.get $b1))))
            (local.set $c1_1 (i32x4.add (local.get $c1_1) (i32x4.dot_i16x8_s (local.get $a1) (local.get $b1))))
            (local.set $c0_2 (i32x4.add (local.get $c0_2) (i32x4.dot_i16x8_s (local.get $a0) (local.get $b2))))
            (local.set $c1_2 (i32x4.add (local.get $c1_2) (i32x4.dot_i16x8_s (local.get $a1) (local.get $b2))))
            (local.set $c0_3 (i32x4.add (local.get $c0_3) (i32x4.dot_i16x8_s (local.get $a0) (local.get $b3))))
            (local.set $c1_3 (i32x4.add (local.get $c1_3) (i32x4.dot_i16x8_s (local.get $a1) (local.get $b3))))
            (local.set $pa (i32.add (local.get $pa) (i32.const 32)))
            (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
            (br_if $each_k (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
          (local.set $out (i32.add (local.get $c) (i32.add (i32.mul (i32.mul (local.get $p) (i32.const 2)) (local.get $ldc)) (i32.mul (local.get $q) (i32.const 16)))))
          (v128.store offset=0 (i32.add (local.get $out) (i32.mul (i32.const 0) (local.get $ldc))) (call $hsum4 (local.get $c0_0) (local.get $c0_1) (local.get $c0_2) (local.get $c0_3)))
          (v128.store offset=0 (i32.add (local.get $out) (i32.mul (i32.const 1) (local.get $ldc))) (call $hsum4 (local.get $c1_0) (local.get $c1_1) (local.get $c1_2) (local.get $c1_3)))
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br $each_q)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $each_p)))
      (local.set $q0 (local.get $q1))
      (br $each_qblock))))
)

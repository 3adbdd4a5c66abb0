;; The witness's Freivalds check of a challenge product (freivalds-wasm.ts): k = 2 rounds over
;; GF(p), p = 2^31 - 1, for n <= 4096, exact in integers. Built to freivalds.wasm by
;; examples/build-kernels.ts; freivalds-wasm.test.ts checks the committed binary is this source.
;;
;; freivalds-wasm.ts lays out the module's own memory per check (byte offsets, multiples of 16):
;;   C:  int32, n rows of `ld` entries;  A, B: bytes, n rows of `ld` entries;
;;   `ld` is n rounded up to 16 and every padding entry is 0.
;;   Vector pairs (entries j >= n are 0):
;;   - the two rounds' r as i32, interleaved: r1[j], r2[j] for j = 0, 1, ... (8 bytes a column);
;;   - two vectors v1, v2 with entries in [0, p) as i16 pieces, in blocks of 16 columns: lo1, hi1,
;;     lo2, hi2 (16 each, 128 bytes a block), where v = lo + 2^16·hi after centring v into [-(p-1)/2, (p-1)/2], so that
;;     lo is in [-2^15, 2^15) and |hi| <= 2^14.
;;   Results: two i32 per row (round 1, round 2), each in [0, p).
;;
;; The bounds below hold for every n up to 4096 (protocol/challenge-matrices.ts, MAX_CHALLENGE_N):
;; a range-checked entry of C is at most 4096·255² = 266,342,400 < 2^28 = 268,435,456, and a row has
;; at most 4096 = 2^12 terms.
(module
  (memory (export "memory") 1 2048)

  ;; Entry index (from $c) of the first group of int32 holding an entry outside 0..$max, or -1: the
  ;; group's unsigned maximum is compared, so negative int32 (2^31 and above as unsigned) are outside
  ;; too. $count is a multiple of 16; groups are 64 entries, then 16 for the rest. Every entry before
  ;; the group returned is in range.
  (func (export "range_check") (param $c i32) (param $count i32) (param $max i32) (result i32)
    (local $end i32) (local $p i32) (local $m v128)
    (local.set $m (i32x4.splat (local.get $max)))
    (local.set $p (local.get $c))
    (local.set $end (i32.add (local.get $c) (i32.shl (local.get $count) (i32.const 2))))
    (block $done (loop $each
      (br_if $done (i32.gt_u (i32.add (local.get $p) (i32.const 256)) (local.get $end)))
      (if (v128.any_true (i32x4.gt_u (i32x4.max_u (i32x4.max_u (i32x4.max_u (i32x4.max_u (v128.load offset=0 (local.get $p)) (v128.load offset=16 (local.get $p))) (i32x4.max_u (v128.load offset=32 (local.get $p)) (v128.load offset=48 (local.get $p)))) (i32x4.max_u (i32x4.max_u (v128.load offset=64 (local.get $p)) (v128.load offset=80 (local.get $p))) (i32x4.max_u (v128.load offset=96 (local.get $p)) (v128.load offset=112 (local.get $p))))) (i32x4.max_u (i32x4.max_u (i32x4.max_u (v128.load offset=128 (local.get $p)) (v128.load offset=144 (local.get $p))) (i32x4.max_u (v128.load offset=160 (local.get $p)) (v128.load offset=176 (local.get $p)))) (i32x4.max_u (i32x4.max_u (v128.load offset=192 (local.get $p)) (v128.load offset=208 (local.get $p))) (i32x4.max_u (v128.load offset=224 (local.get $p)) (v128.load offset=240 (local.get $p)))))) (local.get $m)))
        (then (return (i32.shr_u (i32.sub (local.get $p) (local.get $c)) (i32.const 2)))))
      (local.set $p (i32.add (local.get $p) (i32.const 256)))
      (br $each)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (if (v128.any_true (i32x4.gt_u (i32x4.max_u (i32x4.max_u (v128.load offset=0 (local.get $p)) (v128.load offset=16 (local.get $p))) (i32x4.max_u (v128.load offset=32 (local.get $p)) (v128.load offset=48 (local.get $p)))) (local.get $m)))
        (then (return (i32.shr_u (i32.sub (local.get $p) (local.get $c)) (i32.const 2)))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (br $each)))
    (i32.const -1))

  ;; S mod p in [0, p) for |S| < 2^63.
  (func $mod_p (param $s i64) (result i32)
    (local $r i64)
    (local.set $r (i64.rem_s (local.get $s) (i64.const 2147483647)))
    (i32.wrap_i64 (select (i64.add (local.get $r) (i64.const 2147483647)) (local.get $r)
      (i64.lt_s (local.get $r) (i64.const 0)))))

  ;; lane 0 + lane 1 of an i64x2
  (func $hsum64 (param $v v128) (result i64)
    (i64.add (i64x2.extract_lane 0 (local.get $v)) (i64x2.extract_lane 1 (local.get $v))))

  ;; For each of the $rows byte rows at $m (stride $ld): (row·v1 mod p, row·v2 mod p) into $out, with
  ;; v1, v2 as i16 pieces at $v (blocks of lo1, hi1, lo2, hi2).
  ;;
  ;; i32x4.dot_i16x8_s of bytes (0..255, exact as i16) with pieces (|piece| <= 2^15) gives lanes of
  ;; magnitude at most 2·255·2^15 = 16,711,680; one 16-byte step adds two of them to a lane, so a lane
  ;; holds 64 steps (128 terms, at most 2,139,095,040 < 2^31) before it is widened into the i64x2 sums.
  ;; A row's piece sums are at most n·255·2^15 < 2^35 (n <= 4096) in magnitude, and
  ;; row·v = S_hi·2^16 + S_lo is below n·255·2^30 + 2^35 < 2^51.
  (func (export "dots_u8") (param $m i32) (param $ld i32) (param $rows i32) (param $v i32) (param $out i32)
    (local $row i32) (local $j i32) (local $end i32) (local $stop i32) (local $q i32)
    (local $x v128) (local $xl v128) (local $xh v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $row (i32.const 0))
    (block $done_rows (loop $each_row
      (br_if $done_rows (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $s0 (v128.const i64x2 0 0))
      (local.set $s1 (v128.const i64x2 0 0))
      (local.set $s2 (v128.const i64x2 0 0))
      (local.set $s3 (v128.const i64x2 0 0))
      (local.set $j (i32.const 0))
      (block $done_chunks (loop $each_chunk
        (br_if $done_chunks (i32.ge_u (local.get $j) (local.get $ld)))
        ;; 64 steps of 16 bytes at most per chunk
        (local.set $stop (select (local.get $ld) (i32.add (local.get $j) (i32.const 1024))
          (i32.lt_u (local.get $ld) (i32.add (local.get $j) (i32.const 1024)))))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $end (i32.add (local.get $m) (local.get $stop)))
        (local.set $q (i32.add (local.get $v) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $j (i32.add (local.get $m) (local.get $j)))
        (loop $each_step
          (local.set $x (v128.load (local.get $j)))
          (local.set $xl (i16x8.extend_low_i8x16_u (local.get $x)))
          (local.set $xh (i16x8.extend_high_i8x16_u (local.get $x)))
          (local.set $a0 (i32x4.add (local.get $a0) (i32x4.add
            (i32x4.dot_i16x8_s (local.get $xl) (v128.load offset=0 (local.get $q)))
            (i32x4.dot_i16x8_s (local.get $xh) (v128.load offset=16 (local.get $q))))))
          (local.set $a1 (i32x4.add (local.get $a1) (i32x4.add
            (i32x4.dot_i16x8_s (local.get $xl) (v128.load offset=32 (local.get $q)))
            (i32x4.dot_i16x8_s (local.get $xh) (v128.load offset=48 (local.get $q))))))
          (local.set $a2 (i32x4.add (local.get $a2) (i32x4.add
            (i32x4.dot_i16x8_s (local.get $xl) (v128.load offset=64 (local.get $q)))
            (i32x4.dot_i16x8_s (local.get $xh) (v128.load offset=80 (local.get $q))))))
          (local.set $a3 (i32x4.add (local.get $a3) (i32x4.add
            (i32x4.dot_i16x8_s (local.get $xl) (v128.load offset=96 (local.get $q)))
            (i32x4.dot_i16x8_s (local.get $xh) (v128.load offset=112 (local.get $q))))))
          (local.set $q (i32.add (local.get $q) (i32.const 128)))
          (br_if $each_step (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 16))) (local.get $end))))
        (local.set $j (local.get $stop))
        ;; widen the chunk's i32 lanes into the i64x2 sums
        (local.set $s0 (i64x2.add (local.get $s0) (i64x2.add
          (i64x2.extend_low_i32x4_s (local.get $a0)) (i64x2.extend_high_i32x4_s (local.get $a0)))))
        (local.set $s1 (i64x2.add (local.get $s1) (i64x2.add
          (i64x2.extend_low_i32x4_s (local.get $a1)) (i64x2.extend_high_i32x4_s (local.get $a1)))))
        (local.set $s2 (i64x2.add (local.get $s2) (i64x2.add
          (i64x2.extend_low_i32x4_s (local.get $a2)) (i64x2.extend_high_i32x4_s (local.get $a2)))))
        (local.set $s3 (i64x2.add (local.get $s3) (i64x2.add
          (i64x2.extend_low_i32x4_s (local.get $a3)) (i64x2.extend_high_i32x4_s (local.get $a3)))))
        (br $each_chunk)))
      (i32.store offset=0 (local.get $out) (call $mod_p (i64.add
        (i64.shl (call $hsum64 (local.get $s1)) (i64.const 16)) (call $hsum64 (local.get $s0)))))
      (i32.store offset=4 (local.get $out) (call $mod_p (i64.add
        (i64.shl (call $hsum64 (local.get $s3)) (i64.const 16)) (call $hsum64 (local.get $s2)))))
      (local.set $out (i32.add (local.get $out) (i32.const 8)))
      (local.set $m (i32.add (local.get $m) (local.get $ld)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $each_row))))

  ;; For each of the $rows int32 rows at $c (stride $ld entries, every entry range-checked to
  ;; 0..n·255² < 2^28): (row·r1 mod p, row·r2 mod p) into $out, with r1, r2 (< p) interleaved at $r
  ;; (r1[j], r2[j] for j = 0, 1, ...).
  ;;
  ;; Entries c_j, c_j+1 are spread to [c_j, c_j, c_j+1, c_j+1], so i64x2.extmul_low_i32x4_u against
  ;; [r1[j], r2[j], r1[j+1], r2[j+1]] gives both rounds' terms for c_j (lane 0 round 1, lane 1
  ;; round 2) and extmul_high those for c_j+1. A term is c·r < 2^28·2^31 = 2^59; one step of 16
  ;; entries adds 8 terms to each lane of the two u64 sums, which are below 2^33 before the step, so
  ;; below 2^33 + 8·2^59 < 2^63 after it. Each sum is then folded with 2^31 ≡ 1 (mod p):
  ;; s -> (s mod 2^31) + floor(s / 2^31), at most (2^31 - 1) + 2^32 < 2^33, the same value mod p.
  (func (export "dots_i32") (param $c i32) (param $ld i32) (param $rows i32) (param $r i32) (param $out i32)
    (local $row i32) (local $j i32) (local $end i32) (local $q i32) (local $rs i32)
    (local $x v128) (local $xx v128) (local $sa v128) (local $sb v128) (local $mask v128)
    (local.set $mask (i64x2.splat (i64.const 2147483647)))
    (local.set $rs (i32.shl (local.get $ld) (i32.const 2)))
    (local.set $row (i32.const 0))
    (block $done_rows (loop $each_row
      (br_if $done_rows (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $sa (v128.const i64x2 0 0))
      (local.set $sb (v128.const i64x2 0 0))
      (local.set $j (local.get $c))
      (local.set $end (i32.add (local.get $c) (local.get $rs)))
      (local.set $q (local.get $r))
      (loop $each_step
        (local.set $x (v128.load offset=0 (local.get $j)))
        (local.set $xx (i8x16.shuffle 0 1 2 3 0 1 2 3 4 5 6 7 4 5 6 7 (local.get $x) (local.get $x)))
        (local.set $sa (i64x2.add (local.get $sa) (i64x2.add
          (i64x2.extmul_low_i32x4_u (local.get $xx) (v128.load offset=0 (local.get $q)))
          (i64x2.extmul_high_i32x4_u (local.get $xx) (v128.load offset=0 (local.get $q))))))
        (local.set $xx (i8x16.shuffle 8 9 10 11 8 9 10 11 12 13 14 15 12 13 14 15 (local.get $x) (local.get $x)))
        (local.set $sb (i64x2.add (local.get $sb) (i64x2.add
          (i64x2.extmul_low_i32x4_u (local.get $xx) (v128.load offset=16 (local.get $q)))
          (i64x2.extmul_high_i32x4_u (local.get $xx) (v128.load offset=16 (local.get $q))))))
        (local.set $x (v128.load offset=16 (local.get $j)))
        (local.set $xx (i8x16.shuffle 0 1 2 3 0 1 2 3 4 5 6 7 4 5 6 7 (local.get $x) (local.get $x)))
        (local.set $sa (i64x2.add (local.get $sa) (i64x2.add
          (i64x2.extmul_low_i32x4_u (local.get $xx) (v128.load offset=32 (local.get $q)))
          (i64x2.extmul_high_i32x4_u (local.get $xx) (v128.load offset=32 (local.get $q))))))
        (local.set $xx (i8x16.shuffle 8 9 10 11 8 9 10 11 12 13 14 15 12 13 14 15 (local.get $x) (local.get $x)))
        (local.set $sb (i64x2.add (local.get $sb) (i64x2.add
          (i64x2.extmul_low_i32x4_u (local.get $xx) (v128.load offset=48 (local.get $q)))
          (i64x2.extmul_high_i32x4_u (local.get $xx) (v128.load offset=48 (local.get $q))))))
        (local.set $x (v128.load offset=32 (local.get $j)))
        (local.set $xx (i8x16.shuffle 0 1 2 3 0 1 2 3 4 5 6 7 4 5 6 7 (local.get $x) (local.get $x)))
        (local.set $sa (i64x2.add (local.get $sa) (i64x2.add
          (i64x2.extmul_low_i32x4_u (local.get $xx) (v128.load offset=64 (local.get $q)))
          (i64x2.extmul_high_i32x4_u (local.get $xx) (v128.load offset=64 (local.get $q))))))
        (local.set $xx (i8x16.shuffle 8 9 10 11 8 9 10 11 12 13 14 15 12 13 14 15 (local.get $x) (local.get $x)))
        (local.set $sb (i64x2.add (local.get $sb) (i64x2.add
          (i64x2.extmul_low_i32x4_u (local.get $xx) (v128.load offset=80 (local.get $q)))
          (i64x2.extmul_high_i32x4_u (local.get $xx) (v128.load offset=80 (local.get $q))))))
        (local.set $x (v128.load offset=48 (local.get $j)))
        (local.set $xx (i8x16.shuffle 0 1 2 3 0 1 2 3 4 5 6 7 4 5 6 7 (local.get $x) (local.get $x)))
        (local.set $sa (i64x2.add (local.get $sa) (i64x2.add
          (i64x2.extmul_low_i32x4_u (local.get $xx) (v128.load offset=96 (local.get $q)))
          (i64x2.extmul_high_i32x4_u (local.get $xx) (v128.load offset=96 (local.get $q))))))
        (local.set $xx (i8x16.shuffle 8 9 10 11 8 9 10 11 12 13 14 15 12 13 14 15 (local.get $x) (local.get $x)))
        (local.set $sb (i64x2.add (local.get $sb) (i64x2.add
          (i64x2.extmul_low_i32x4_u (local.get $xx) (v128.load offset=112 (local.get $q)))
          (i64x2.extmul_high_i32x4_u (local.get $xx) (v128.load offset=112 (local.get $q))))))
        (local.set $sa (i64x2.add (v128.and (local.get $sa) (local.get $mask)) (i64x2.shr_u (local.get $sa) (i32.const 31))))
        (local.set $sb (i64x2.add (v128.and (local.get $sb) (local.get $mask)) (i64x2.shr_u (local.get $sb) (i32.const 31))))
        (local.set $q (i32.add (local.get $q) (i32.const 128)))
        (br_if $each_step (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 64))) (local.get $end))))
      ;; per round two lanes below 2^33: the sum is below 2^34
      (local.set $sa (i64x2.add (local.get $sa) (local.get $sb)))
      (i32.store offset=0 (local.get $out) (call $mod_p (i64x2.extract_lane 0 (local.get $sa))))
      (i32.store offset=4 (local.get $out) (call $mod_p (i64x2.extract_lane 1 (local.get $sa))))
      (local.set $out (i32.add (local.get $out) (i32.const 8)))
      (local.set $c (local.get $end))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $each_row))))
)

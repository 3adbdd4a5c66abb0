import { randomFillSync, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';

/*
 * Freivalds' check with k = 2 rounds over GF(2³¹ − 1) in WebAssembly SIMD (freivalds.wat), the fast
 * path of verifier/freivalds.ts for n ≤ 4096. One pass over each matrix serves both rounds:
 * 1. A, B and C are copied into the module's memory, rows padded with zeros to a multiple of 16;
 * 2. every entry of C is range-checked (0..n·255²) before any random vector is drawn;
 * 3. the vectors r₁, r₂ are drawn; y = B·r (both rounds in one pass over B, mod p);
 *    z = A·y (one pass over A); w = C·r (one pass over C); the check is z = w per round and row.
 * The arithmetic is exact integer arithmetic with the bounds written beside each function in
 * freivalds.wat. The module is compiled and instantiated once, synchronously (it is under 2 KB), so
 * `freivalds()` stays synchronous; its memory grows to the largest n checked (96 MiB at
 * n = 4096) and is reused.
 */

export const MAX_WASM_FREIVALDS_N = 4096;
const P = 2_147_483_647;
const PAGE = 65_536;
/** Columns per block of the vector layout (freivalds.wat). */
const BLOCK = 16;

/** Where a check of order n lives in the module's memory (byte offsets, all multiples of 16). */
export interface FreivaldsLayout {
  readonly n: number;
  /** Entries per row: n rounded up to 16. */
  readonly ld: number;
  readonly c: number;
  readonly a: number;
  readonly b: number;
  /** r₁, r₂ as i32, interleaved (r₁[j], r₂[j] for each column j). */
  readonly r: number;
  /** r₁, r₂ as i16 pieces (lo₁, hi₁, lo₂, hi₂ per block of 16 columns). */
  readonly rPieces: number;
  /** y = B·r as i16 pieces, laid out as rPieces. */
  readonly yPieces: number;
  /** Results, two int32 per row (round 1, round 2): B·r, A·(B·r), C·r. */
  readonly y: number;
  readonly z: number;
  readonly w: number;
  readonly bytes: number;
}

export function freivaldsLayout(n: number): FreivaldsLayout {
  const ld = Math.ceil(n / BLOCK) * BLOCK;
  const c = 0;
  const a = c + 4 * n * ld;
  const b = a + n * ld;
  const r = b + n * ld;
  const rPieces = r + 8 * ld;
  const yPieces = rPieces + 8 * ld;
  const results = Math.ceil((8 * n) / 16) * 16;
  const y = yPieces + 8 * ld;
  const z = y + results;
  const w = z + results;
  return { n, ld, c, a, b, r, rPieces, yPieces, y, z, w, bytes: w + results };
}

export type FreivaldsWasmResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'out-of-range'; readonly index: number; readonly value: number }
  | { readonly ok: false; readonly reason: 'mismatch'; readonly round: number; readonly row: number };

interface Kernel {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  range_check(c: number, count: number, max: number): number;
  dots_u8(m: number, ld: number, rows: number, v: number, out: number): void;
  dots_i32(c: number, ld: number, rows: number, r: number, out: number): void;
}

/* The part of the WebAssembly JavaScript API (a global in Node) used here; the project's `lib` has no DOM. */
declare const compiledModule: unique symbol;
interface CompiledModule {
  readonly [compiledModule]?: never;
}
const wasmJs = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => CompiledModule;
      Instance: new (m: CompiledModule, imports: object) => { readonly exports: Kernel };
    };
  }
).WebAssembly;

const WASM_URL = new URL('./freivalds.wasm', import.meta.url);
let kernel: Kernel | undefined;

/** Order of the warm-up checks: a layout that fits the module's first page. */
const WARM_N = 48;
const WARM_RUNS = 40;

/**
 * Instantiates the module once. V8 first runs WebAssembly in its baseline compiler and compiles a
 * function with the optimising one, in the background, only after it has run a while; a few passes
 * over an all-zero check of order 48 here start that, so that checks that come later (after a
 * challenge's round trip) run optimised code.
 */
function loadKernel(): Kernel {
  if (kernel !== undefined) return kernel;
  const k = new wasmJs.Instance(new wasmJs.Module(readFileSync(WASM_URL)), {}).exports;
  const l = freivaldsLayout(WARM_N);
  for (let i = 0; i < WARM_RUNS; i++) {
    k.range_check(l.c, WARM_N * l.ld, WARM_N * 255 * 255);
    k.dots_u8(l.b, l.ld, WARM_N, l.rPieces, l.y);
    k.dots_u8(l.a, l.ld, WARM_N, l.yPieces, l.z);
    k.dots_i32(l.c, l.ld, WARM_N, l.r, l.w);
  }
  kernel = k;
  return k;
}

/**
 * Two uniform vectors over GF(2³¹ − 1) of n entries each, r₁ then r₂: from `random(p)` called 2n
 * times in that order when given, else from one read of node:crypto's CSPRNG, 31 bits per entry with
 * the one value 2³¹ − 1 = p drawn again (a uniform 31-bit word is uniform on [0, p) given x ≠ p).
 */
export function drawVectors(n: number, random?: (max: number) => number): Int32Array {
  const out = new Int32Array(2 * n);
  if (random !== undefined) {
    for (let j = 0; j < 2 * n; j++) out[j] = random(P);
    return out;
  }
  randomFillSync(out);
  for (let j = 0; j < 2 * n; j++) {
    let x = out[j]! & P;
    while (x === P) x = randomInt(P);
    out[j] = x;
  }
  return out;
}

/**
 * Writes the vector pair (v₁ = v[0..n), v₂ = v[n..2n), entries in [0, p)) as i16 pieces at `at`:
 * v is centred into [−(p − 1)/2, (p − 1)/2], then lo = its low 16 bits as a signed value and
 * hi = (v − lo) / 2¹⁶, so |hi| ≤ (2³⁰ + 2¹⁵) / 2¹⁶ < 2¹⁴ + 1. Padding columns stay 0.
 */
function writePieces(mem: Int16Array, at: number, n: number, ld: number, v: (j: number) => number): void {
  const base = at >> 1;
  mem.fill(0, base, base + 4 * ld);
  for (let round = 0; round < 2; round++)
    for (let j = 0; j < n; j++) {
      const x = v(round * n + j);
      const s = x > (P - 1) / 2 ? x - P : x;
      const lo = (s << 16) >> 16;
      const at16 = base + (j >> 4) * 64 + round * 32 + (j & 15);
      mem[at16] = lo;
      mem[at16 + 16] = (s - lo) / 65_536;
    }
}

/**
 * Checks C = A·B (n×n, row-major; A, B bytes, C int32) with two rounds over GF(2³¹ − 1): the
 * range check of every entry first (the first entry out of 0..n·255², in row-major order, is
 * reported and no vector is drawn), then the vectors, then A·(B·r) = C·r. A mismatch names the
 * first round, and in it the first row, where the two sides differ. The caller checks the sizes.
 */
export function freivaldsWasm(
  n: number,
  a: Uint8Array,
  b: Uint8Array,
  c: Int32Array,
  random?: (max: number) => number,
): FreivaldsWasmResult {
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_FREIVALDS_N)
    throw new RangeError(`n must be an integer in 1..${MAX_WASM_FREIVALDS_N}`);
  const k = loadKernel();
  const l = freivaldsLayout(n);
  const have = k.memory.buffer.byteLength;
  if (have < l.bytes) k.memory.grow(Math.ceil((l.bytes - have) / PAGE));
  const u8 = new Uint8Array(k.memory.buffer);
  const i32 = new Int32Array(k.memory.buffer);
  const ld = l.ld;
  if (ld === n) {
    i32.set(c, l.c >> 2);
    u8.set(a, l.a);
    u8.set(b, l.b);
  } else {
    for (let i = 0; i < n; i++) {
      const row = i * n;
      i32.set(c.subarray(row, row + n), (l.c >> 2) + i * ld);
      i32.fill(0, (l.c >> 2) + i * ld + n, (l.c >> 2) + (i + 1) * ld);
      u8.set(a.subarray(row, row + n), l.a + i * ld);
      u8.fill(0, l.a + i * ld + n, l.a + (i + 1) * ld);
      u8.set(b.subarray(row, row + n), l.b + i * ld);
      u8.fill(0, l.b + i * ld + n, l.b + (i + 1) * ld);
    }
  }

  const max = n * 255 * 255;
  const group = k.range_check(l.c, n * ld, max);
  if (group >= 0) {
    // every entry before the group is in range, and the padding is 0: the first entry out of range
    // is in the group's first row or after it
    for (let i = Math.floor(group / ld) * n; i < n * n; i++) {
      const v = c[i]!;
      if (v < 0 || v > max) return { ok: false, reason: 'out-of-range', index: i, value: v };
    }
    throw new Error('freivalds.wasm flagged entries that are in range (a bug)');
  }

  const r = drawVectors(n, random);
  const rBase = l.r >> 2;
  i32.fill(0, rBase, rBase + 2 * ld);
  for (let round = 0; round < 2; round++)
    for (let j = 0; j < n; j++) i32[rBase + 2 * j + round] = r[round * n + j]!;
  const i16 = new Int16Array(k.memory.buffer);
  writePieces(i16, l.rPieces, n, ld, (j) => r[j]!);
  k.dots_u8(l.b, ld, n, l.rPieces, l.y);
  // y holds (round 1, round 2) per row; the pieces want round 1's vector, then round 2's
  const y = l.y >> 2;
  writePieces(i16, l.yPieces, n, ld, (j) => (j < n ? i32[y + 2 * j]! : i32[y + 2 * (j - n) + 1]!));
  k.dots_u8(l.a, ld, n, l.yPieces, l.z);
  k.dots_i32(l.c, ld, n, l.r, l.w);
  const z = l.z >> 2;
  const w = l.w >> 2;
  for (let round = 0; round < 2; round++)
    for (let i = 0; i < n; i++)
      if (i32[z + 2 * i + round] !== i32[w + 2 * i + round])
        return { ok: false, reason: 'mismatch', round, row: i };
  return { ok: true };
}

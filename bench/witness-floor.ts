import { readFileSync } from 'node:fs';
import wabt from 'wabt';
import { freivaldsLayout } from '../verifier/freivalds-wasm.js';

/*
 * The memory floor of a witness's check at order n (`npm run bench -- witness`): what it costs only to
 * read C (4n² bytes) once, summing its entries, from a JavaScript Int32Array and in WebAssembly SIMD
 * (C already in the module's memory), and to copy A, B and C into a WebAssembly memory, which the
 * check in verifier/freivalds-wasm.ts must do before reading them. No check is faster than reading
 * its input once. Beside it, each pass of verifier/freivalds.wasm alone on the same product, to show
 * where the check's time goes.
 */

export interface FloorRow {
  readonly n: number;
  /** Best wall time of a plain JS loop summing C. */
  readonly jsSumMs: number;
  /** Best wall time of an i32x4 loop summing C in a WebAssembly memory. */
  readonly wasmSumMs: number;
  /** Best wall time of copying A, B (n² bytes each) and C (4n² bytes) into a WebAssembly memory. */
  readonly copyMs: number;
  /** freivalds.wasm's passes alone, best wall time each: the range check of C, B·r, A·y, C·r. */
  readonly rangeMs: number;
  readonly bPassMs: number;
  readonly aPassMs: number;
  readonly cPassMs: number;
}

interface KernelExports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  range_check(c: number, count: number, max: number): number;
  dots_u8(m: number, ld: number, rows: number, v: number, out: number): void;
  dots_i32(c: number, ld: number, rows: number, r: number, out: number): void;
}

/** i32x4 sums of the int32 at [$p, $end), four vectors a step (lanes wrap; only the reading counts). */
const SUM_WAT = `(module
  (memory (export "memory") 1 2048)
  (func (export "sum") (param $p i32) (param $end i32) (result i32)
    (local $s0 v128) (local $s1 v128)
    (loop $each
      (local.set $s0 (i32x4.add (local.get $s0) (i32x4.add (v128.load offset=0 (local.get $p)) (v128.load offset=16 (local.get $p)))))
      (local.set $s1 (i32x4.add (local.get $s1) (i32x4.add (v128.load offset=32 (local.get $p)) (v128.load offset=48 (local.get $p)))))
      (br_if $each (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 64))) (local.get $end))))
    (local.set $s0 (i32x4.add (local.get $s0) (local.get $s1)))
    (i32.add (i32.add (i32x4.extract_lane 0 (local.get $s0)) (i32x4.extract_lane 1 (local.get $s0)))
      (i32.add (i32x4.extract_lane 2 (local.get $s0)) (i32x4.extract_lane 3 (local.get $s0))))))`;

interface SumExports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  sum(p: number, end: number): number;
}
interface WasmJs {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: SumExports & KernelExports };
}

function best(fn: () => unknown, runs: number): number {
  for (let i = 0; i < 5; i++) fn();
  let b = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    b = Math.min(b, performance.now() - t0);
  }
  return b;
}

export async function floorRow(n: number, a: Uint8Array, b: Uint8Array, c: Int32Array): Promise<FloorRow> {
  const kit = await wabt();
  const mod = kit.parseWat('sum.wat', SUM_WAT, { simd: true });
  let bytes: Uint8Array;
  try {
    mod.resolveNames();
    bytes = new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
  const wasm = (globalThis as unknown as { WebAssembly: WasmJs }).WebAssembly;
  const k = new wasm.Instance(new wasm.Module(bytes), {}).exports;
  const nn = n * n;
  if (nn % 16 !== 0) throw new RangeError('the floor is measured for n² a multiple of 16');
  k.memory.grow(Math.ceil((6 * nn) / 65_536));
  const u8 = new Uint8Array(k.memory.buffer);
  const i32 = new Int32Array(k.memory.buffer);
  i32.set(c, 0);
  let sink = 0;
  const jsSumMs = best(() => {
    let s = 0;
    for (let i = 0; i < nn; i++) s += c[i]!;
    sink += s;
  }, 20);
  const wasmSumMs = best(() => {
    sink += k.sum(0, 4 * nn);
  }, 50);
  const copyMs = best(() => {
    i32.set(c, 0);
    u8.set(a, 4 * nn);
    u8.set(b, 5 * nn);
  }, 50);
  if (sink === 0.5) console.log(sink); // keeps the sums observable

  // the kernel's passes on this product, laid out as freivalds-wasm.ts lays it out (the vectors'
  // values do not change the time of a pass, so they are left 0)
  const f = new wasm.Instance(
    new wasm.Module(readFileSync(new URL('../verifier/freivalds.wasm', import.meta.url))),
    {},
  ).exports;
  const l = freivaldsLayout(n);
  if (l.ld !== n) throw new RangeError('the passes are measured for n a multiple of 16');
  f.memory.grow(Math.ceil(l.bytes / 65_536));
  new Int32Array(f.memory.buffer).set(c, l.c >> 2);
  new Uint8Array(f.memory.buffer).set(a, l.a);
  new Uint8Array(f.memory.buffer).set(b, l.b);
  const rangeMs = best(() => {
    if (f.range_check(l.c, nn, n * 255 * 255) !== -1) throw new Error('the product is out of range');
  }, 20);
  const bPassMs = best(() => f.dots_u8(l.b, n, n, l.rPieces, l.y), 20);
  const aPassMs = best(() => f.dots_u8(l.a, n, n, l.yPieces, l.z), 20);
  const cPassMs = best(() => f.dots_i32(l.c, n, n, l.r, l.w), 20);
  return { n, jsSumMs, wasmSumMs, copyMs, rangeMs, bPassMs, aPassMs, cPassMs };
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileWat } from '../../examples/build-example.js';
import { isEnclaveHostError } from '../errors.js';
import {
  capMemoryMaximum,
  DEFAULT_MODULE_LIMITS,
  type ModuleLimits,
  prepareModule,
  readMemoryLimits,
  readTableLimits,
  tableMaxima,
} from './prepare-module.js';
import { wasmApi } from './wasm-api.js';

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
/** A module that is only a memory section with the given payload (count + limits). */
function memoryOnly(...payload: number[]): Uint8Array {
  return Uint8Array.from([...HEADER, 5, payload.length, ...payload]);
}
/** Unsigned LEB128, optionally padded to `width` bytes (valid: the spec allows up to 5). */
function leb(v: number, width = 0): number[] {
  const out: number[] = [];
  let x = v;
  do {
    out.push((x & 0x7f) | 0x80);
    x = Math.floor(x / 128);
  } while (x > 0 || out.length < width);
  out[out.length - 1]! &= 0x7f;
  return out;
}

function expectInvalid(f: () => unknown) {
  try {
    f();
  } catch (e) {
    expect(isEnclaveHostError(e, 'FUNCTION_INVALID_MODULE')).toBe(true);
    return;
  }
  throw new Error('expected FUNCTION_INVALID_MODULE');
}

describe('capMemoryMaximum', () => {
  it('sets a maximum where none is declared and lowers a larger one; keeps a smaller one', async () => {
    const none = await compileWat('m.wat', '(module (memory 2))');
    expect(readMemoryLimits(capMemoryMaximum(none, 100))).toEqual({ initial: 2, maximum: 100 });
    const big = await compileWat('m.wat', '(module (memory 2 65536))');
    expect(readMemoryLimits(capMemoryMaximum(big, 100))).toEqual({ initial: 2, maximum: 100 });
    const small = await compileWat('m.wat', '(module (memory 2 10))');
    expect(capMemoryMaximum(small, 100)).toBe(small);
    const noMemory = await compileWat('m.wat', '(module)');
    expect(capMemoryMaximum(noMemory, 100)).toBe(noMemory);
  });

  it('keeps the other sections intact around the rewritten one', async () => {
    const wasm = await compileWat(
      'm.wat',
      '(module (type (func)) (func (export "f")) (memory (export "memory") 1) (data (i32.const 0) "abc"))',
    );
    const capped = capMemoryMaximum(wasm, 7);
    expect(wasmApi.validate(capped)).toBe(true);
    expect(readMemoryLimits(capped)).toEqual({ initial: 1, maximum: 7 });
    const mod = await wasmApi.compile(capped);
    expect(wasmApi.Module.exports(mod).map((e) => e.name)).toEqual(['f', 'memory']);
  });

  it('reads padded LEB128s (valid per the spec) and writes a valid module', () => {
    const padded = memoryOnly(1, 0x00, ...leb(3, 5));
    expect(wasmApi.validate(padded)).toBe(true);
    const capped = capMemoryMaximum(padded, 9);
    expect(wasmApi.validate(capped)).toBe(true);
    expect(readMemoryLimits(capped)).toEqual({ initial: 3, maximum: 9 });
  });

  it('property: any initial/maximum pair gives a valid module capped at the limit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65536 }),
        fc.option(fc.integer({ min: 0, max: 65536 }), { nil: undefined }),
        fc.integer({ min: 1, max: 65536 }),
        fc.integer({ min: 0, max: 5 }),
        (initial, maxRaw, limit, pad) => {
          const maximum = maxRaw === undefined ? undefined : Math.max(initial, maxRaw);
          const wasm =
            maximum === undefined
              ? memoryOnly(1, 0x00, ...leb(initial, pad))
              : memoryOnly(1, 0x01, ...leb(initial, pad), ...leb(maximum, pad));
          const capped = capMemoryMaximum(wasm, limit);
          expect(wasmApi.validate(capped)).toBe(initial <= limit);
          expect(readMemoryLimits(capped)).toEqual({ initial, maximum: Math.min(maximum ?? limit, limit) });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses shared and 64-bit memories, multi-memory, and malformed sections', () => {
    expectInvalid(() => capMemoryMaximum(memoryOnly(1, 0x03, 1, 2), 10)); // shared
    expectInvalid(() => capMemoryMaximum(memoryOnly(1, 0x04, 1), 10)); // memory64
    expectInvalid(() => capMemoryMaximum(memoryOnly(2, 0x00, 1, 0x00, 1), 10)); // two memories
    expectInvalid(() => capMemoryMaximum(Uint8Array.from([...HEADER, 5, 9, 1, 0, 1]), 10)); // past the end
    expectInvalid(() => capMemoryMaximum(memoryOnly(1, 0x00, 0x80), 10)); // truncated LEB
    expectInvalid(() => capMemoryMaximum(memoryOnly(1, 0x00, 0xff, 0xff, 0xff, 0xff, 0x7f), 10)); // > 32 bits
    expectInvalid(() => capMemoryMaximum(memoryOnly(1, 0x00, 1, 0), 10)); // trailing byte
    expectInvalid(() => capMemoryMaximum(Uint8Array.from([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]), 10)); // version
  });
});

describe('prepareModule', () => {
  it('accepts a WASI command and reports the effective maximum', async () => {
    const wasm = await compileWat(
      'm.wat',
      `(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
        (memory (export "memory") 1 300) (func (export "_start")))`,
    );
    const p = await prepareModule(wasm, 16);
    expect(p).toMatchObject({ initialPages: 1, maximumPages: 16, declaredMaximumPages: 300 });
  });

  it('refuses WASI reactors and unknown WASI functions', async () => {
    const reactor = await compileWat(
      'm.wat',
      '(module (memory (export "memory") 1) (func (export "_start")) (func (export "_initialize")))',
    );
    await expect(prepareModule(reactor, 16)).rejects.toMatchObject({ code: 'FUNCTION_INVALID_MODULE' });
    const unknown = await compileWat(
      'm.wat',
      `(module (import "wasi_snapshot_preview1" "no_such_call" (func))
        (memory (export "memory") 1) (func (export "_start")))`,
    );
    await expect(prepareModule(unknown, 16)).rejects.toMatchObject({
      code: 'FUNCTION_INVALID_MODULE',
      info: { name: 'no_such_call' },
    });
  });
});

const COMMAND = `(import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (memory (export "memory") 1) (func (export "_start"))`;
const limitsWith = (l: Partial<ModuleLimits>): ModuleLimits => ({ ...DEFAULT_MODULE_LIMITS, ...l });

async function expectOverLimit(p: Promise<unknown>, info: Record<string, unknown>) {
  await expect(p).rejects.toMatchObject({ code: 'FUNCTION_RESOURCE_LIMIT', info });
}

describe('tableMaxima', () => {
  it('property: the maxima sum to at most the budget, never below initial nor above the declared maximum', () => {
    const table = fc.record({
      initial: fc.integer({ min: 0, max: 50_000 }),
      maximum: fc.option(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.array(table, { maxLength: 16 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        (raw, budget) => {
          const tables = raw.map((t) => ({
            initial: t.initial,
            maximum: t.maximum === undefined ? undefined : Math.max(t.initial, t.maximum),
          }));
          fc.pre(tables.reduce((n, t) => n + t.initial, 0) <= budget);
          const maxima = tableMaxima(tables, budget);
          expect(maxima.reduce((n, m) => n + m, 0)).toBeLessThanOrEqual(budget);
          maxima.forEach((m, i) => {
            expect(m).toBeGreaterThanOrEqual(tables[i]!.initial);
            expect(m).toBeLessThanOrEqual(tables[i]!.maximum ?? Number.POSITIVE_INFINITY);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('splits what the initial sizes leave equally', () => {
    expect(tableMaxima([{ initial: 10, maximum: undefined }], 100)).toEqual([100]);
    expect(
      tableMaxima(
        [
          { initial: 0, maximum: undefined },
          { initial: 10, maximum: 20 },
        ],
        100,
      ),
    ).toEqual([45, 20]);
  });
});

describe('prepareModule resource limits', () => {
  it('caps every table maximum in the compiled module and keeps the rest of the module', async () => {
    const wasm = await compileWat(
      'm.wat',
      `(module ${COMMAND} (table 3 funcref) (table 1 5 externref) (func $f) (elem (i32.const 0) func $f $f))`,
      { reference_types: true },
    );
    const p = await prepareModule(wasm, 16, limitsWith({ maxTableEntries: 1000 }));
    // 1000 − 4 initial leaves 996: 498 each; the second table keeps its smaller declared maximum.
    expect(p.tables).toEqual([
      { refType: 0x70, initial: 3, maximum: undefined, effectiveMaximum: 501 },
      { refType: 0x6f, initial: 1, maximum: 5, effectiveMaximum: 5 },
    ]);
    expect(readTableLimits(wasm)).toEqual([
      { refType: 0x70, initial: 3, maximum: undefined },
      { refType: 0x6f, initial: 1, maximum: 5 },
    ]);
  });

  it('refuses each resource above its limit and names the resource, the declared value and the limit', async () => {
    const ref = { reference_types: true };
    const cases: [string, Partial<ModuleLimits>, Record<string, unknown>][] = [
      [
        '(table 11 funcref)',
        { maxTableEntries: 10 },
        { resource: 'initial table entries', declared: 11, limit: 10 },
      ],
      [
        '(table 1 funcref) (table 1 funcref)',
        { maxTables: 1 },
        { resource: 'tables', declared: 2, limit: 1 },
      ],
      [
        '(global i32 (i32.const 1)) (global i64 (i64.const 2))',
        { maxGlobals: 1 },
        { resource: 'globals', declared: 2, limit: 1 },
      ],
      ['(func) (func)', { maxFunctions: 2 }, { resource: 'functions', declared: 3, limit: 2 }],
      [
        '(table 4 funcref) (func $f) (elem (i32.const 0) func $f) (elem func $f $f) (elem declare func $f)',
        { maxElementSegments: 2 },
        { resource: 'element segments', declared: 3, limit: 2 },
      ],
      [
        '(table 4 funcref) (func $f) (elem (i32.const 0) funcref (ref.func $f) (ref.null func)) (elem func $f $f)',
        { maxElementEntries: 3 },
        { resource: 'element entries', declared: 4, limit: 3 },
      ],
      [
        '(data (i32.const 0) "ab") (data "c")',
        { maxDataSegments: 1 },
        { resource: 'data segments', declared: 2, limit: 1 },
      ],
      [
        '(data (i32.const 0) "abc") (data "defg") (data (i32.const 9) "")',
        { maxDataBytes: 6 },
        { resource: 'data bytes', declared: 7, limit: 6 },
      ],
    ];
    for (const [body, limits, info] of cases) {
      const wasm = await compileWat('m.wat', `(module ${COMMAND} ${body})`, ref);
      await expectOverLimit(prepareModule(wasm, 16, limitsWith(limits)), info);
      // At the limit it is accepted.
      const atLimit = { ...limits };
      for (const k of Object.keys(atLimit) as (keyof ModuleLimits)[]) atLimit[k] = info.declared as number;
      await expect(prepareModule(wasm, 16, limitsWith(atLimit))).resolves.toBeDefined();
    }
  });

  it('refuses imported tables, memories and globals before compiling them', async () => {
    for (const [desc, memory] of [
      ['(table 1 funcref)', '(memory (export "memory") 1)'],
      ['(memory 1)', '(export "memory" (memory 0))'],
      ['(global i32)', '(memory (export "memory") 1)'],
    ]) {
      const wasm = await compileWat(
        'm.wat',
        `(module (import "wasi_snapshot_preview1" "x" ${desc}) ${memory} (func (export "_start")))`,
      );
      await expect(prepareModule(wasm, 16)).rejects.toMatchObject({ code: 'FUNCTION_INVALID_MODULE' });
    }
  });

  it('refuses malformed table sections', () => {
    const tableOnly = (...payload: number[]) => Uint8Array.from([...HEADER, 4, payload.length, ...payload]);
    expectInvalid(() => readTableLimits(tableOnly(1, 0x7f, 0x00, 1))); // not a reftype
    expectInvalid(() => readTableLimits(tableOnly(1, 0x70, 0x02, 1))); // unknown limits flags
    expectInvalid(() => readTableLimits(tableOnly(2, 0x70, 0x00, 1))); // runs past its end
    expectInvalid(() => readTableLimits(tableOnly(1, 0x70, 0x00, 1, 0))); // trailing byte
    expect(readTableLimits(tableOnly(1, 0x70, 0x01, 1, 2))).toEqual([
      { refType: 0x70, initial: 1, maximum: 2 },
    ]);
  });
});

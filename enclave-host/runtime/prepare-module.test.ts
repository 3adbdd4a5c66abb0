import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileWat } from '../../examples/build-example.js';
import { isEnclaveHostError } from '../errors.js';
import { capMemoryMaximum, prepareModule, readMemoryLimits } from './prepare-module.js';
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

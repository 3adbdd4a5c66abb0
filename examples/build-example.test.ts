import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { buildExample, EXAMPLE_NAMES } from './build-example.js';

const wasm = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly;

describe('examples', () => {
  it('every .wat source is listed, and every listed example has a source', async () => {
    const sources = (await readdir(new URL('./', import.meta.url)))
      .filter((f) => f.endsWith('.wat'))
      .map((f) => f.slice(0, -4))
      .sort();
    expect(sources).toEqual([...EXAMPLE_NAMES].sort());
  });

  it('each example builds to a valid module, byte-for-byte the same every time', async () => {
    for (const name of EXAMPLE_NAMES) {
      const a = await buildExample(name);
      const b = await buildExample(name);
      expect(wasm.validate(a), name).toBe(true);
      expect(Buffer.from(a).equals(b), name).toBe(true);
    }
  });
});

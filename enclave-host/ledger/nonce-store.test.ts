import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileNonceStore } from './nonce-store.js';

describe('FileNonceStore', () => {
  it('persists ceilings atomically and never lowers them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'defaas-nonces-'));
    try {
      const a = await FileNonceStore.open(dir);
      expect(a.ceiling('1/0xabc')).toBe(0n);
      await Promise.all([a.raise('1/0xabc', 1024n), a.raise('1/0xdef', 7n), a.raise('1/0xabc', 5n)]);
      await a.raise('1/0xabc', 2048n);
      const b = await FileNonceStore.open(dir);
      expect(b.ceiling('1/0xabc')).toBe(2048n);
      expect(b.ceiling('1/0xdef')).toBe(7n);
      expect(await readdir(dir)).toEqual(['nonce-ceilings.json']);
      expect(JSON.parse(await readFile(join(dir, 'nonce-ceilings.json'), 'utf8')).version).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileNonceStore } from './nonce-store.js';

describe('FileNonceStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'defaas-nonces-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const floors = (ceiling: bigint, amountFloor = 0n) => ({ ceiling, amountFloor });

  it('persists ceilings and amount floors atomically and never lowers them', async () => {
    const a = await FileNonceStore.open(dir);
    expect(a.floors('1/0xabc')).toEqual(floors(0n));
    await Promise.all([
      a.raise('1/0xabc', floors(1024n, 50n)),
      a.raise('1/0xdef', floors(7n)),
      a.raise('1/0xabc', floors(5n, 10n)),
    ]);
    await a.raise('1/0xabc', floors(2048n, 40n));
    const b = await FileNonceStore.open(dir);
    expect(b.floors('1/0xabc')).toEqual(floors(2048n, 50n));
    expect(b.floors('1/0xdef')).toEqual(floors(7n));
    expect(await readdir(dir)).toEqual(['nonce-ceilings.json']);
    expect(JSON.parse(await readFile(join(dir, 'nonce-ceilings.json'), 'utf8')).version).toBe(2);
  });

  it('reads a version 1 file (ceilings only: amount floor 0) and writes version 2', async () => {
    await writeFile(
      join(dir, 'nonce-ceilings.json'),
      JSON.stringify({ version: 1, ceilings: { '1/0xabc': '3072', '2/0xdef': '1024' } }),
    );
    const a = await FileNonceStore.open(dir);
    expect(a.floors('1/0xabc')).toEqual(floors(3072n));
    expect(a.floors('2/0xdef')).toEqual(floors(1024n));
    await a.raise('1/0xabc', floors(3072n, 9n));
    const o = JSON.parse(await readFile(join(dir, 'nonce-ceilings.json'), 'utf8'));
    expect(o).toEqual({
      version: 2,
      accounts: {
        '1/0xabc': { ceiling: '3072', amountFloor: '9' },
        '2/0xdef': { ceiling: '1024', amountFloor: '0' },
      },
    });
  });

  it('refuses a file it does not understand', async () => {
    for (const bad of [
      { version: 3, accounts: {} },
      { version: 2, accounts: { k: { ceiling: '-1', amountFloor: '0' } } },
      { version: 1, ceilings: { k: 5 } },
    ]) {
      await writeFile(join(dir, 'nonce-ceilings.json'), JSON.stringify(bad));
      await expect(FileNonceStore.open(dir)).rejects.toThrow(/nonce-ceilings.json/);
    }
  });

  it('a raise that asks for nothing new resolves once the write that raised it is durable', async () => {
    const a = await FileNonceStore.open(dir);
    const first = a.raise('1/0xabc', floors(1024n));
    let joined = false;
    const again = a.raise('1/0xabc', floors(1024n)).then(() => {
      joined = true;
    });
    expect(joined).toBe(false);
    await first;
    await again;
    expect((await FileNonceStore.open(dir)).floors('1/0xabc')).toEqual(floors(1024n));
  });
});

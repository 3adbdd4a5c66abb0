import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendDurably, writeFileAtomic } from './durable-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'defaas-durable-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('durable files', () => {
  it('writeFileAtomic replaces the file whole, creates its directory and leaves no temporary file', async () => {
    const p = join(dir, 'a', 'x.json');
    await writeFileAtomic(p, 'one');
    await writeFileAtomic(p, new TextEncoder().encode('two'));
    expect(await readFile(p, 'utf8')).toBe('two');
    expect(await readdir(join(dir, 'a'))).toEqual(['x.json']);
  });

  it('appendDurably appends', async () => {
    const p = join(dir, 'log');
    await appendDurably(p, Uint8Array.of(1, 2));
    await appendDurably(p, Uint8Array.of(3));
    expect([...(await readFile(p))]).toEqual([1, 2, 3]);
  });
});

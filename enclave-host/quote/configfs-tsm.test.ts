import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type EnclaveHostErrorCode, isEnclaveHostError } from '../errors.js';
import { ConfigfsTsmQuoteProvider } from './configfs-tsm.js';
import { FakeConfigfsTsm, type FakeTsmOptions } from './fake-configfs-tsm.js';

const reportData = Uint8Array.from({ length: 64 }, (_, i) => i + 1);
const enc = new TextEncoder();

async function expectCode(p: Promise<unknown>, code: EnclaveHostErrorCode) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isEnclaveHostError(err, code)) throw new Error(`expected ${code}, got ${String(err)}`);
  return err;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function fake(opts: FakeTsmOptions): Promise<FakeConfigfsTsm> {
  const f = await FakeConfigfsTsm.create(opts);
  cleanups.push(() => f.destroy());
  return f;
}

function fakeQuote(provider: string, inblob: Uint8Array): Uint8Array {
  const head = enc.encode(`FAKEQUOTE${provider}:`);
  const out = new Uint8Array(head.length + inblob.length);
  out.set(head);
  out.set(inblob, head.length);
  return out;
}

describe('ConfigfsTsmQuoteProvider', () => {
  it('TDX: returns the outblob for our REPORTDATA, no auxblob, and removes the entry', async () => {
    const f = await fake({ provider: 'tdx_guest' });
    const p = new ConfigfsTsmQuoteProvider({ tee: 'tdx', root: f.root, fs: f.fs });
    expect(p.tee).toBe('tdx');
    const ev = await p.getEvidence(reportData);
    expect(ev.evidence).toEqual(fakeQuote('tdx_guest', reportData));
    expect(ev.auxblob).toBeUndefined();
    expect(f.created).toHaveLength(1);
    expect(await f.entries()).toEqual([]);
  });

  it('SEV-SNP: returns outblob and the auxblob certificate table, honouring privlevel', async () => {
    const certs = enc.encode('certificate table');
    const f = await fake({
      provider: 'sev_guest',
      auxblob: certs,
      makeOutblob: (inblob, privlevel) => Uint8Array.of(privlevel, ...inblob),
    });
    const p = new ConfigfsTsmQuoteProvider({ tee: 'sev-snp', root: f.root, fs: f.fs, privlevel: 2 });
    const ev = await p.getEvidence(reportData);
    expect(ev.evidence).toEqual(Uint8Array.of(2, ...reportData));
    expect(ev.auxblob).toEqual(certs);
    expect(await f.entries()).toEqual([]);
  });

  it('wrong provider: QUOTE_PROVIDER_MISMATCH before writing anything, entry removed', async () => {
    const f = await fake({ provider: 'sev_guest' });
    const p = new ConfigfsTsmQuoteProvider({ tee: 'tdx', root: f.root, fs: f.fs });
    const err = await expectCode(p.getEvidence(reportData), 'QUOTE_PROVIDER_MISMATCH');
    expect(err.info).toMatchObject({ provider: 'sev_guest', expected: 'tdx_guest' });
    expect(await f.entries()).toEqual([]);
  });

  it('generation race once: retries in a fresh entry and returns evidence for our REPORTDATA', async () => {
    let reads = 0;
    const f = await fake({
      provider: 'tdx_guest',
      beforeOutblob: async (entry, self) => {
        if (reads++ === 0) await self.interfere(entry);
      },
    });
    const p = new ConfigfsTsmQuoteProvider({ tee: 'tdx', root: f.root, fs: f.fs });
    const ev = await p.getEvidence(reportData);
    expect(ev.evidence).toEqual(fakeQuote('tdx_guest', reportData));
    expect(f.created).toHaveLength(2);
    expect(await f.entries()).toEqual([]);
  });

  it('generation race every time: QUOTE_GENERATION_RACE after maxAttempts, every entry removed', async () => {
    const f = await fake({ provider: 'tdx_guest', beforeOutblob: (entry, self) => self.interfere(entry) });
    const p = new ConfigfsTsmQuoteProvider({ tee: 'tdx', root: f.root, fs: f.fs, maxAttempts: 4 });
    const err = await expectCode(p.getEvidence(reportData), 'QUOTE_GENERATION_RACE');
    expect(err.kind).toBe('unavailable');
    expect(err.info).toMatchObject({ attempts: 4, generationBefore: 0, generationAfter: 2, writes: 1 });
    expect(f.created).toHaveLength(4);
    expect(await f.entries()).toEqual([]);
  });

  it('quote generation failure: QUOTE_PROVIDER_FAILED with the errno, entry removed', async () => {
    const f = await fake({ provider: 'tdx_guest', outblobErrno: 'EIO' });
    const p = new ConfigfsTsmQuoteProvider({ tee: 'tdx', root: f.root, fs: f.fs });
    const err = await expectCode(p.getEvidence(reportData), 'QUOTE_PROVIDER_FAILED');
    expect(err.info).toMatchObject({ attr: 'outblob', errno: 'EIO' });
    expect(await f.entries()).toEqual([]);
  });

  it('concurrent requests use separate entries and each gets its own evidence', async () => {
    const f = await fake({ provider: 'tdx_guest' });
    const p = new ConfigfsTsmQuoteProvider({ tee: 'tdx', root: f.root, fs: f.fs });
    const inputs = Array.from({ length: 8 }, (_, i) => new Uint8Array(64).fill(i));
    const evs = await Promise.all(inputs.map((d) => p.getEvidence(d)));
    evs.forEach((ev, i) => {
      expect(ev.evidence).toEqual(fakeQuote('tdx_guest', inputs[i]!));
    });
    expect(new Set(f.created).size).toBe(8);
    expect(await f.entries()).toEqual([]);
  });

  it('no permission to create an entry (not root): QUOTE_PROVIDER_UNAVAILABLE', async () => {
    const f = await fake({ provider: 'tdx_guest' });
    const denied = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    const fs = { ...f.fs, mkdir: () => Promise.reject(denied) };
    const p = new ConfigfsTsmQuoteProvider({ tee: 'tdx', root: f.root, fs });
    const err = await expectCode(p.getEvidence(reportData), 'QUOTE_PROVIDER_UNAVAILABLE');
    expect(err.info).toMatchObject({ errno: 'EACCES' });
    expect(err.cause).toBe(denied);
  });

  it('REPORTDATA must be 64 bytes', async () => {
    const f = await fake({ provider: 'tdx_guest' });
    const p = new ConfigfsTsmQuoteProvider({ tee: 'tdx', root: f.root, fs: f.fs });
    await expectCode(p.getEvidence(new Uint8Array(32)), 'INVALID_ARGUMENT');
    expect(f.created).toHaveLength(0);
  });

  it('refuses bad options', () => {
    expect(() => new ConfigfsTsmQuoteProvider({ tee: 'tdx', privlevel: 1 })).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => new ConfigfsTsmQuoteProvider({ tee: 'sev-snp', privlevel: 4 })).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => new ConfigfsTsmQuoteProvider({ tee: 'tdx', maxAttempts: 0 })).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});

describe('ConfigfsTsmQuoteProvider without configfs-tsm', () => {
  async function devDir(...devices: string[]): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'defaas-dev-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    for (const d of devices) await writeFile(join(dir, d), '');
    return dir;
  }
  const missingRoot = join(tmpdir(), 'defaas-no-such-dir', 'tsm', 'report');

  it('legacy device present: explains that configfs-tsm (Linux ≥ 6.7) is needed', async () => {
    const dev = await devDir('tdx_guest');
    const p = new ConfigfsTsmQuoteProvider({ tee: 'tdx', root: missingRoot, devDir: dev });
    const err = await expectCode(p.getEvidence(reportData), 'QUOTE_PROVIDER_UNAVAILABLE');
    expect(err.message).toContain('tdx_guest exists');
    expect(err.message).toContain('Linux ≥ 6.7');
    const snp = new ConfigfsTsmQuoteProvider({
      tee: 'sev-snp',
      root: missingRoot,
      devDir: await devDir('sev-guest'),
    });
    expect((await expectCode(snp.getEvidence(reportData), 'QUOTE_PROVIDER_UNAVAILABLE')).message).toContain(
      'sev-guest exists',
    );
  });

  it('the other TEE present: says the --tee is wrong', async () => {
    const p = new ConfigfsTsmQuoteProvider({
      tee: 'tdx',
      root: missingRoot,
      devDir: await devDir('sev-guest'),
    });
    const err = await expectCode(p.getEvidence(reportData), 'QUOTE_PROVIDER_UNAVAILABLE');
    expect(err.message).toContain('not a tdx guest');
  });

  it('nothing present: not in a TEE', async () => {
    const p = new ConfigfsTsmQuoteProvider({ tee: 'sev-snp', root: missingRoot, devDir: await devDir() });
    const err = await expectCode(p.getEvidence(reportData), 'QUOTE_PROVIDER_UNAVAILABLE');
    expect(err.message).toContain('not running in a sev-snp guest');
    expect(err.info).toMatchObject({ root: missingRoot, tee: 'sev-snp' });
  });

  it('a root that is a plain directory (no kernel behind it) fails with a typed error and leaves nothing', async () => {
    const root = await devDir();
    const p = new ConfigfsTsmQuoteProvider({ tee: 'tdx', root });
    await expectCode(p.getEvidence(reportData), 'QUOTE_PROVIDER_FAILED');
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(root)).toEqual([]);
  });
});

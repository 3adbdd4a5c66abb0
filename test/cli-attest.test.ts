import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../cli/main.js';
import { VECTORS, type VectorIndexEntry, vectorIndex, vectorPath } from './vectors.js';

/** Runs `defaas …` in-process and captures what it prints. */
async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  const before = process.exitCode;
  try {
    const code = await main(['node', 'defaas', ...args]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = before;
  }
}

afterEach(() => {
  process.exitCode = undefined;
});

const plusOneDay = (iso: string) => new Date(new Date(iso).getTime() + 86_400_000).toISOString();

function intelArgs(v: VectorIndexEntry): string[] {
  return [vectorPath(v.quote as string), '--collateral', vectorPath(v.collateral_json as string)];
}

function snpArgs(v: VectorIndexEntry): string[] {
  const f = v.files as Record<string, string>;
  const key = f.vlek ? ['--vlek', vectorPath(f.vlek)] : ['--vcek', vectorPath(f.vcek!)];
  return [vectorPath(f.report!), ...key, '--chain', vectorPath(f.signer_chain!)];
}

describe.skipIf(!VECTORS)('defaas attest verify on every real vector (platform policy)', () => {
  const idx = VECTORS ? vectorIndex() : { tdx: [], sgx: [], sev_snp: [] };
  const cases = [
    ...[...idx.tdx, ...idx.sgx].map((v) => ({ v, args: intelArgs(v) })),
    ...idx.sev_snp
      .filter((v) => (v.files as Record<string, string>).report)
      .map((v) => ({ v, args: snpArgs(v) })),
  ];

  it.each(cases.map((c) => [c.v.id, c] as const))('%s', async (_id, { v, args }) => {
    const r = await run('attest', 'verify', ...args, '--at', v.verify_at, '--json');
    const j = JSON.parse(r.out || r.err) as Record<string, unknown>;
    const verdict = v.expected.verdict;
    if (verdict === 'accept' || verdict.startsWith('accept (Intel QVL)')) {
      expect(j.ok, JSON.stringify(j)).toBe(true);
      expect(r.code).toBe(0);
    } else if (verdict === 'accept-with-status') {
      // Genuine, but the platform policy accepts only UpToDate.
      expect(j.code).toBe('POLICY_TCB_STATUS');
      expect(j.tcbStatus).toBe(v.expected.tcb_status);
      expect(j.advisoryIds).toEqual(v.expected.advisory_ids);
      expect(r.code).toBe(1);
    } else if (verdict === 'reject-by-policy') {
      expect(j.code).toBe('POLICY_DEBUG');
      expect(r.code).toBe(1);
    } else {
      expect(j.ok).toBe(false);
      expect(j.kind).toBe('verification');
      expect(r.code).toBe(1);
    }
    if (j.ok) {
      expect(Object.keys(j.measurements as object).length).toBeGreaterThan(3);
      expect(j.reportData).toMatch(/^[0-9a-f]{128}$/);
    }
    if (v.expected.tcb_status && verdict !== 'reject') expect(j.tcbStatus).toBe(v.expected.tcb_status);
  });

  it.each(
    cases
      .filter((c) => c.v.valid_window && !c.v.expected.verdict.startsWith('reject'))
      .map((c) => [c.v.id, c] as const),
  )('%s one day after its window is rejected as expired', async (_id, { v, args }) => {
    const r = await run('attest', 'verify', ...args, '--at', plusOneDay(v.valid_window!.to), '--json');
    expect(JSON.parse(r.out || r.err).code).toBe('COLLATERAL_EXPIRED');
    expect(r.code).toBe(1);
  });

  it('applies a policy file, and a policy written from the output pins the measurements', async () => {
    const v = idx.tdx[0]!;
    const first = JSON.parse(
      (await run('attest', 'verify', ...intelArgs(v), '--at', v.verify_at, '--json')).out,
    );
    const dir = mkdtempSync(join(tmpdir(), 'defaas-policy-'));
    const good = join(dir, 'good.json');
    writeFileSync(
      good,
      JSON.stringify({ allowedTees: ['tdx'], measurements: { tdx: { mrTd: first.measurements.mrTd } } }),
    );
    expect((await run('attest', 'verify', ...intelArgs(v), '--at', v.verify_at, '--policy', good)).code).toBe(
      0,
    );
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({ allowedTees: ['tdx'], measurements: { tdx: { mrTd: '00'.repeat(48) } } }),
    );
    const r = await run('attest', 'verify', ...intelArgs(v), '--at', v.verify_at, '--policy', bad, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.err || r.out).code).toBe('POLICY_MEASUREMENT_MISMATCH');
    const typo = join(dir, 'typo.json');
    writeFileSync(typo, JSON.stringify({ allowedTees: ['tdx'], dangerouslyAllowAnyMeasurment: true }));
    await expect(
      run('attest', 'verify', ...intelArgs(v), '--at', v.verify_at, '--policy', typo),
    ).resolves.toMatchObject({ code: 1 });
  });
});

describe('defaas attest verify: usage errors exit 2', () => {
  it.each([
    ['no argument', ['attest', 'verify']],
    ['unknown option', ['attest', 'verify', 'x', '--nope']],
    ['missing file', ['attest', 'verify', '/nonexistent/quote.bin']],
  ])('%s', async (_n, args) => {
    expect((await run(...args)).code).toBe(2);
  });

  it('a bad --at is a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'defaas-ev-'));
    const f = join(dir, 'ev.bin');
    writeFileSync(f, Buffer.from([2, 0, 0, 0]));
    const r = await run('attest', 'verify', f, '--at', 'yesterday');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/RFC 3339/);
  });

  it('an Intel quote without --collateral, and an SNP report without --vcek, are usage errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'defaas-ev-'));
    const q = join(dir, 'q.bin');
    writeFileSync(q, Buffer.from([4, 0, 2, 0, 0x81, 0, 0, 0]));
    expect((await run('attest', 'verify', q)).err).toMatch(/--collateral/);
    const s = join(dir, 's.bin');
    writeFileSync(s, Buffer.from([3, 0, 0, 0]));
    expect((await run('attest', 'verify', s)).err).toMatch(/--vcek/);
  });

  it('unknown evidence is rejected (exit 1) with its code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'defaas-ev-'));
    const f = join(dir, 'junk.bin');
    writeFileSync(f, Buffer.from('hello world'));
    const r = await run('attest', 'verify', f, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.err || r.out).code).toBe('EVIDENCE_UNKNOWN_FORMAT');
  });

  it('--help works on every command', async () => {
    for (const args of [
      ['--help'],
      ['attest', '--help'],
      ['attest', 'verify', '--help'],
      ['demo', '--help'],
    ]) {
      const r = await run(...args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.out).toMatch(/Usage:/);
    }
  });
});

describe('defaas demo', () => {
  it('runs the whole local network: lease on anvil, verified calls, provider paid on-chain', async () => {
    const r = await run('demo', '--json', '--calls', '100');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.ok).toBe(true);
    expect(j.calls).toBe(100);
    expect(j.callsOk).toBe(100);
    expect(j.outputsChecked).toBe(100);
    expect(j.receiptsVerified).toBe(100);
    expect(j.receipts).toBeGreaterThanOrEqual(2); // batched: at most 64 calls per receipt
    expect(BigInt(j.providerPaid)).toBeGreaterThan(0n);
    expect(BigInt(j.providerPaid)).toBe(100n * BigInt(j.pricePerCall));
    expect(BigInt(j.balances.after.provider) - BigInt(j.balances.before.provider)).toBe(
      BigInt(j.providerPaid),
    );
    expect(BigInt(j.balances.before.leaseEscrow) - BigInt(j.balances.after.leaseEscrow)).toBe(
      BigInt(j.providerPaid),
    );
    // anvil was stopped: its pid is gone
    expect(() => process.kill(j.chain.anvilPid, 0)).toThrow();
  });

  it('refuses a bad --calls as a usage error', async () => {
    expect((await run('demo', '--calls', '0')).code).toBe(2);
  });
});

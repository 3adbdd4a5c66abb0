import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DemoSummary } from '../cli/demo/network.js';
import { expectFailure, onlyJson, runCli } from './cli-run.js';
import { VECTORS, type VectorIndexEntry, vectorIndex, vectorPath } from './vectors.js';

const run = runCli;

const temps: string[] = [];

afterEach(() => {
  process.exitCode = undefined;
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
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
    const j = onlyJson(r.out);
    const verdict = v.expected.verdict;
    if (verdict === 'accept' || verdict.startsWith('accept (Intel QVL)')) {
      expect(j.ok, JSON.stringify(j)).toBe(true);
      expect(r.code).toBe(0);
    } else if (verdict === 'accept-with-status') {
      // Genuine, but the platform policy accepts only UpToDate: a policy refusal, exit 4.
      expect(j).toMatchObject({ ok: false, code: 'POLICY_TCB_STATUS', kind: 'policy' });
      expect(j.tcbStatus).toBe(v.expected.tcb_status);
      expect(j.advisoryIds).toEqual(v.expected.advisory_ids);
      expect(r.code).toBe(4);
    } else if (verdict === 'reject-by-policy') {
      expect(j).toMatchObject({ ok: false, code: 'POLICY_DEBUG', kind: 'policy' });
      expect(r.code).toBe(4);
    } else {
      expect(j.ok).toBe(false);
      expect(j.kind).toBe('verification');
      expect(r.code).toBe(1);
    }
    if (j.ok) {
      expect(Object.keys(j.measurements as object).length).toBeGreaterThan(3);
      for (const h of Object.values(j.measurements as object)) expect(h).toMatch(/^0x([0-9a-f]{2})+$/);
      expect(j.reportData).toMatch(/^0x[0-9a-f]{128}$/);
      expect(j.evidenceHash).toMatch(/^0x[0-9a-f]{64}$/);
      expect(j).not.toHaveProperty('code');
    }
    if (v.expected.tcb_status && verdict !== 'reject') expect(j.tcbStatus).toBe(v.expected.tcb_status);
  });

  it.each(
    cases
      .filter((c) => c.v.valid_window && !c.v.expected.verdict.startsWith('reject'))
      .map((c) => [c.v.id, c] as const),
  )('%s one day after its window is rejected as expired', async (_id, { v, args }) => {
    const r = await run('attest', 'verify', ...args, '--at', plusOneDay(v.valid_window!.to), '--json');
    expectFailure(r.out, 'COLLATERAL_EXPIRED', 'verification');
    expect(r.code).toBe(1);
  });

  it('applies a policy file, and a policy written from the output pins the measurements', async () => {
    const v = idx.tdx[0]!;
    const first = onlyJson<{ measurements: { mrTd: string } }>(
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
    expect(r.code).toBe(4);
    expectFailure(r.out, 'POLICY_MEASUREMENT_MISMATCH', 'policy');
    // A policy file that is not a policy is the user's mistake (exit 2), not the evidence's.
    const typo = join(dir, 'typo.json');
    writeFileSync(typo, JSON.stringify({ allowedTees: ['tdx'], dangerouslyAllowAnyMeasurment: true }));
    const t = await run('attest', 'verify', ...intelArgs(v), '--at', v.verify_at, '--policy', typo, '--json');
    expect(t.code).toBe(2);
    expect(expectFailure(t.out, 'FILE_INVALID', 'usage').message).toContain(typo);
  });

  it('keeps a policy refusal (exit 4) apart from a failed verification (exit 1), in JSON and in text', async () => {
    const byPolicy = cases.find((c) => c.v.expected.verdict === 'accept-with-status');
    const forged = cases.find((c) => c.v.expected.verdict === 'reject');
    if (!byPolicy || !forged) throw new Error('the vectors have lost their policy or reject cases');
    const p = await run('attest', 'verify', ...byPolicy.args, '--at', byPolicy.v.verify_at, '--json');
    expect(p.code).toBe(4);
    const pj = expectFailure(p.out, 'POLICY_TCB_STATUS', 'policy');
    // The refusal still says what the genuine evidence is, so a policy can be written from it.
    expect(pj.measurements).not.toBeNull();
    expect(pj.verifiedAt).toBe(new Date(byPolicy.v.verify_at).toISOString());
    const f = await run('attest', 'verify', ...forged.args, '--at', forged.v.verify_at, '--json');
    expect(f.code).toBe(1);
    expect(onlyJson(f.out)).toMatchObject({ ok: false, kind: 'verification' });
    // Text: nothing on stdout, `defaas: CODE: message` then details on stderr.
    const t = await run('attest', 'verify', ...byPolicy.args, '--at', byPolicy.v.verify_at);
    expect(t.code).toBe(4);
    expect(t.out).toBe('');
    expect(t.err).toMatch(/^defaas: POLICY_TCB_STATUS: .+\n {2}policy: {7}platform/);
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
    expect(r.out).toBe('');
    expect(r.err).toMatch(
      /^defaas: INVALID_ARGUMENT: option '--at <time>' argument 'yesterday' is invalid\. .*RFC 3339/,
    );
    const j = await run('attest', 'verify', f, '--at', '2025-07-01', '--json');
    expect(j.code).toBe(2);
    expectFailure(j.out, 'INVALID_ARGUMENT', 'usage');
  });

  it('a missing evidence file is a usage error naming it, as JSON under --json', async () => {
    const r = await run('attest', 'verify', '/nonexistent/quote.bin', '--json');
    expect(r.code).toBe(2);
    expect(expectFailure(r.out, 'FILE_NOT_FOUND', 'usage').message).toContain('/nonexistent/quote.bin');
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

  it('unknown evidence fails verification (exit 1) with its code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'defaas-ev-'));
    const f = join(dir, 'junk.bin');
    writeFileSync(f, Buffer.from('hello world'));
    const r = await run('attest', 'verify', f, '--json');
    expect(r.code).toBe(1);
    expectFailure(r.out, 'EVIDENCE_UNKNOWN_FORMAT', 'malformed');
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
  it('runs the whole local network: lease on anvil, verified calls, provider paid on-chain, a clean audit', async () => {
    const logDir = join(mkdtempSync(join(tmpdir(), 'defaas-demo-')), 'log');
    temps.push(dirname(logDir));
    const r = await run('demo', '--json', '--calls', '100', '--log-dir', logDir);
    expect(r.code, r.err).toBe(0);
    // Progress goes to stderr under --json; stdout holds only the summary.
    expect(r.err).toMatch(/\d+\. customer: attested session/);
    const j = onlyJson<DemoSummary>(r.out);
    expect(j.ok).toBe(true);
    expect(j.functionId).toMatch(/^0x[0-9a-f]{64}$/);
    expect(j.evidenceHash).toMatch(/^0x[0-9a-f]{64}$/);
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
    // every epoch checked by its committee and paid; the lease settled and its collateral released
    expect(j.epochs.map((e) => e.verdict)).toEqual(['Ok', 'Ok']);
    for (const e of j.epochs) expect(BigInt(e.providerPaid)).toBeGreaterThan(0n);
    expect(BigInt(j.collateral)).toBeGreaterThan(0n);
    expect(BigInt(j.customerRefunded)).toBeGreaterThan(0n);
    // anvil was stopped: its pid is gone
    expect(() => process.kill(j.chain.anvilPid, 0)).toThrow();
    // The attestation log holds the registration, the session and every revealed verdict; the demo's
    // own audit was clean, and so is an audit of the directory it left.
    expect(j.log.byKind).toEqual({ 'executor-registered': 1, 'session-verified': 1, 'verdict-revealed': 6 });
    expect(j.log.findings).toBe(0);
    expect(j.log.anchoredSize).toBe(j.log.entries);
    const a = await run(
      'audit',
      'verify',
      '--log',
      j.log.dir,
      '--vkey',
      j.log.vkeyFile,
      '--simulated-root',
      j.log.simulatedRoot,
      '--json',
    );
    expect(a.code, a.err).toBe(0);
    expect(onlyJson<{ clean: boolean; entries: { total: number } }>(a.out)).toMatchObject({
      clean: true,
      entries: { total: j.log.entries },
    });
  });

  it('refuses a bad --calls as a usage error', async () => {
    for (const calls of ['0', '10001', '1.5', 'many']) {
      const r = await run('demo', '--calls', calls, '--json');
      expect(r.code, calls).toBe(2);
      expectFailure(r.out, 'INVALID_ARGUMENT', 'usage');
    }
  });
});

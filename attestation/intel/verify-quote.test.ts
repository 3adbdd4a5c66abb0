import { describe, expect, it, vi } from 'vitest';
import { codeOf } from '../../test/error-code.js';
import {
  readVector,
  readVectorText,
  VECTORS,
  type VectorIndexEntry,
  vectorIndex,
} from '../../test/vectors.js';
import { toHex } from '../bytes.js';
import { VerifyCache } from '../cache.js';
import type { AttestationErrorCode } from '../errors.js';
import type { VerifiedSgx, VerifiedTdx } from '../evidence.js';
import { normaliseSerial, parsePemChain } from '../x509.js';
import { parseCollateralJson } from './collateral.js';
import { parseQuote } from './quote.js';
import type { VerifiedCollateral } from './types.js';
import { tryVerifyQuote, verifyQuote } from './verify-quote.js';

// Lets one test alter the verified collateral (e.g. put the PCK on the CRL) without re-signing it.
const hooks = vi.hoisted(() => ({
  alter: undefined as undefined | ((v: VerifiedCollateral) => VerifiedCollateral),
}));
vi.mock('./collateral.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('./collateral.js')>();
  return {
    ...orig,
    verifyCollateral: (...args: Parameters<typeof orig.verifyCollateral>) => {
      const v = orig.verifyCollateral(...args);
      return hooks.alter ? hooks.alter(v) : v;
    },
  };
});

/** The error each rejected vector must raise (MANIFEST.md "expected verdict" reasons). */
const REJECT_CODES: Record<string, AttestationErrorCode> = {
  'v5-phala-90c06f-tcb-not-supported': 'TCB_NOT_SUPPORTED',
  'v4-gotdx-50806f-tcb-not-supported': 'TCB_NOT_SUPPORTED',
  // Intel QVL's first failure: the PCK CRL (Processor CA) was not issued by the PCK's CA (Platform CA).
  'v4-phala-b0c06f-WRONG-collateral': 'CRL_INVALID',
};

const DAY = 86_400_000;

describe.skipIf(!VECTORS)('verifyQuote on the hardware vectors', () => {
  const index = VECTORS ? vectorIndex() : { tdx: [], sgx: [] };
  const all: VectorIndexEntry[] = [...index.tdx, ...index.sgx];
  const load = (v: VectorIndexEntry) => ({
    raw: readVector(v.quote as string),
    collateral: parseCollateralJson(readVectorText(v.collateral_json as string)),
    now: new Date(v.verify_at),
  });

  it.each(all.map((v) => [v.id, v] as const))('%s: expected verdict at verify_at', (id, v) => {
    const { raw, collateral, now } = load(v);
    const exp = v.expected as { verdict: string; tcb_status?: string | null; advisory_ids?: string[] };
    const f = v.facts as Record<string, unknown>;
    if (exp.verdict === 'reject') {
      const code = REJECT_CODES[id];
      expect(code, `no expected code listed for ${id}`).toBeDefined();
      expect(codeOf(() => verifyQuote(raw, collateral, { now }))).toBe(code);
      return;
    }
    const r = verifyQuote(raw, collateral, { now });
    expect(r.tcbStatus).toBe(exp.tcb_status);
    expect([...r.advisoryIds].sort()).toEqual([...(exp.advisory_ids ?? [])].sort());
    expect(r.debug).toBe(exp.verdict === 'reject-by-policy');
    if (exp.verdict === 'accept') expect(r.tcbStatus).toBe('UpToDate');
    expect(toHex(r.evidenceHash)).toBe(v.quote_sha256);
    expect(toHex(r.fmspc).toUpperCase()).toBe(f.fmspc);
    expect(r.ppid.length).toBe(16);
    expect(toHex(r.reportData)).toBe(f.report_data);
    expect(r.collateralIssuedAt).toBeInstanceOf(Date);
    if (r.tee === 'tdx') {
      expect(r.quoteVersion).toBe(f.quote_version);
      expect(toHex(r.measurements.mrTd!)).toBe(f.mr_td);
      expect(toHex(r.tdAttributes)).toBe(f.td_attributes);
      expect(r.debug).toBe(f.td_debug);
      for (const k of [
        'rtmr0',
        'rtmr1',
        'rtmr2',
        'rtmr3',
        'mrConfigId',
        'mrOwner',
        'mrOwnerConfig',
        'mrSeam',
        'mrSignerSeam',
      ]) {
        expect(r.measurements[k]?.length, k).toBe(48);
      }
      for (const k of ['xfam', 'tdAttributes', 'seamAttributes'])
        expect(r.measurements[k]?.length, k).toBe(8);
      expect(toHex(r.measurements.teeTcbSvn!)).toBe(f.tee_tcb_svn);
      const td15 = f.body_type === 3;
      expect(r.measurements.mrServiceTd?.length).toBe(td15 ? 48 : undefined);
      expect(r.measurements.teeTcbSvn2?.length).toBe(td15 ? 16 : undefined);
    } else {
      expect(r.quoteVersion).toBe(3);
      expect(toHex(r.measurements.mrEnclave!)).toBe(f.mr_enclave);
      expect(toHex(r.measurements.mrSigner!)).toBe(f.mr_signer);
      expect(toHex(r.measurements.attributes!)).toBe(f.attributes);
      expect(r.debug).toBe(f.sgx_debug);
      const q = parseQuote(raw);
      expect(q.tee === 'sgx' && r.isvProdId === q.body.isvProdId && r.isvSvn === q.body.isvSvn).toBe(true);
    }
  });

  it.each(all.map((v) => [v.id, v] as const))(
    '%s: one day after valid_window.to is COLLATERAL_EXPIRED',
    (_id, v) => {
      const { raw, collateral } = load(v);
      const later = new Date(Date.parse(v.valid_window!.to) + DAY);
      expect(codeOf(() => verifyQuote(raw, collateral, { now: later }))).toBe('COLLATERAL_EXPIRED');
      const cache = new VerifyCache();
      const now = new Date(v.verify_at);
      // Warm the cache first where the vector verifies: a hit must not let stale collateral through.
      if ((v.expected as { verdict: string }).verdict !== 'reject')
        verifyQuote(raw, collateral, { now, cache });
      expect(codeOf(() => verifyQuote(raw, collateral, { now: later, cache }))).toBe('COLLATERAL_EXPIRED');
    },
  );

  it('a time before the window is COLLATERAL_NOT_YET_VALID', () => {
    const v = all[0]!;
    const { raw, collateral } = load(v);
    const earlier = new Date(Date.parse(v.valid_window!.from) - DAY);
    expect(codeOf(() => verifyQuote(raw, collateral, { now: earlier }))).toBe('COLLATERAL_NOT_YET_VALID');
  });

  it('warm and cold verification give the same result; parsed and raw input too', () => {
    const v = all[0]!;
    const { raw, collateral, now } = load(v);
    const cold = verifyQuote(raw, collateral, { now });
    const cache = new VerifyCache();
    verifyQuote(raw, collateral, { now, cache });
    const warm = verifyQuote(raw, collateral, { now, cache });
    const parsed = verifyQuote(parseQuote(raw), collateral, { now, cache });
    expect(warm).toEqual(cold);
    expect(parsed).toEqual(cold);
  });

  it('rejects a quote verified under other root pins (ROOT_NOT_TRUSTED)', () => {
    const { raw, collateral, now } = load(all[0]!);
    const roots = { intel: [new Uint8Array(32)], amd: { Milan: [], Genoa: [], Turin: [] } };
    expect(codeOf(() => verifyQuote(raw, collateral, { now, roots }))).toBe('ROOT_NOT_TRUSTED');
  });

  it('rejects a revoked PCK and a revoked PCK CA (CERT_REVOKED), also on a warm cache', () => {
    const { raw, collateral, now } = load(all[0]!);
    const [pck, pckCa] = parsePemChain(Buffer.from(parseQuote(raw).pckCertChain).toString('latin1'), 'chain');
    const cache = new VerifyCache();
    verifyQuote(raw, collateral, { now, cache });
    try {
      hooks.alter = (vc) => ({
        ...vc,
        pckCrl: {
          ...vc.pckCrl,
          revokedSerials: new Set([...vc.pckCrl.revokedSerials, normaliseSerial(pck!.serialNumber)]),
        },
      });
      expect(codeOf(() => verifyQuote(raw, collateral, { now, cache }))).toBe('CERT_REVOKED');
      hooks.alter = (vc) => ({
        ...vc,
        rootCaCrl: { ...vc.rootCaCrl, revokedSerials: new Set([normaliseSerial(pckCa!.serialNumber)]) },
      });
      expect(codeOf(() => verifyQuote(raw, collateral, { now, cache }))).toBe('CERT_REVOKED');
    } finally {
      hooks.alter = undefined;
    }
    expect(verifyQuote(raw, collateral, { now, cache }).tcbStatus).toBe('UpToDate');
  });

  it('rejects an invalid `now`', () => {
    const { raw, collateral } = load(all[0]!);
    expect(codeOf(() => verifyQuote(raw, collateral, { now: new Date(Number.NaN) }))).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('tryVerifyQuote returns results instead of throwing', () => {
    const { raw, collateral, now } = load(all[0]!);
    const ok = tryVerifyQuote(raw, collateral, { now });
    expect(ok.ok && ok.value.tcbStatus).toBe('UpToDate');
    const bad = tryVerifyQuote(raw.subarray(0, 100), collateral, { now });
    expect(!bad.ok && bad.error.code).toBe('QUOTE_TRUNCATED');
  });

  it('debug bits: TDATTRIBUTES bit 0 and SGX ATTRIBUTES bit 1', () => {
    const tdx = all.find((v) => v.id === 'v4-trustee-50806f-debug-td')!;
    const { raw, collateral, now } = load(tdx);
    const r = verifyQuote(raw, collateral, { now }) as VerifiedTdx;
    expect(r.tee).toBe('tdx');
    expect(r.debug).toBe(true);
    expect(r.tdAttributes[0]! & 1).toBe(1);
    const sgx = all.find((v) => v.id.startsWith('v3-'))!;
    const s = load(sgx);
    const rs = verifyQuote(s.raw, s.collateral, { now: s.now }) as VerifiedSgx;
    expect(rs.tee).toBe('sgx');
    expect(rs.debug).toBe(false);
  });
});

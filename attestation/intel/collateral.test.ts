import { describe, expect, it } from 'vitest';
import { codeOf, codeOfAsync } from '../../test/error-code.js';
import {
  readVectorText,
  VECTORS,
  type VectorIndexEntry,
  vectorIndex,
  vectorPath,
} from '../../test/vectors.js';
import { VerifyCache } from '../cache.js';
import { isAttestationError } from '../errors.js';
import { DEFAULT_TRUST_ROOTS } from '../roots.js';
import {
  collateralDigest,
  loadIntelCollateral,
  parseCollateralJson,
  parsePcsSignedResponse,
  topLevelRawMembers,
  tryVerifyCollateral,
  verifyCollateral,
} from './collateral.js';
import type { IntelCollateral } from './types.js';

function errorOf(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    if (isAttestationError(e)) return e;
    throw e;
  }
  throw new Error('expected an AttestationError, nothing was thrown');
}

const DAY = 86_400_000;

describe('topLevelRawMembers / parsePcsSignedResponse', () => {
  it('returns member values verbatim, whitespace and key order included', () => {
    const body =
      ' { "tcbInfo" : {"b":1, "a" : [1,{"x":"}]\\""}]} ,\n"signature":"' + 'ab'.repeat(64) + '" } ';
    const m = topLevelRawMembers(body, 't');
    expect(m.get('tcbInfo')).toBe('{"b":1, "a" : [1,{"x":"}]\\""}]}');
    const r = parsePcsSignedResponse(body, 'tcbInfo', 't');
    expect(r.text).toBe('{"b":1, "a" : [1,{"x":"}]\\""}]}');
    expect(r.signature.length).toBe(64);
  });

  it('refuses duplicate keys, missing members, bad signatures and invalid JSON', () => {
    const sig = `"signature":"${'00'.repeat(64)}"`;
    expect(codeOf(() => topLevelRawMembers(`{"tcbInfo":{},"tcbInfo":{},${sig}}`, 't'))).toBe(
      'COLLATERAL_MALFORMED',
    );
    expect(codeOf(() => parsePcsSignedResponse(`{${sig}}`, 'tcbInfo', 't'))).toBe('COLLATERAL_MALFORMED');
    expect(codeOf(() => parsePcsSignedResponse(`{"tcbInfo":"x",${sig}}`, 'tcbInfo', 't'))).toBe(
      'COLLATERAL_MALFORMED',
    );
    expect(codeOf(() => parsePcsSignedResponse('{"tcbInfo":{},"signature":"abcd"}', 'tcbInfo', 't'))).toBe(
      'COLLATERAL_MALFORMED',
    );
    expect(codeOf(() => parsePcsSignedResponse('{"tcbInfo":{}', 'tcbInfo', 't'))).toBe(
      'COLLATERAL_MALFORMED',
    );
    expect(codeOf(() => topLevelRawMembers('[1]', 't'))).toBe('COLLATERAL_MALFORMED');
  });
});

describe('parseCollateralJson', () => {
  it('names the missing or odd field', () => {
    const e = errorOf(() => parseCollateralJson('{"tcb_info":"{}","qe_identity":"{}"}'));
    expect(e.code).toBe('COLLATERAL_MALFORMED');
    expect(e.message).toMatch(/tcb_info_signature/);
    expect(codeOf(() => parseCollateralJson('not json'))).toBe('COLLATERAL_MALFORMED');
  });
});

/** Collateral sets with a time inside their windows (taken from the quotes that use them). */
function collateralSets(): { set: string; dir: string; at: Date; entry: VectorIndexEntry }[] {
  const index = vectorIndex();
  const seen = new Map<string, { set: string; dir: string; at: Date; entry: VectorIndexEntry }>();
  for (const e of [...index.tdx, ...index.sgx]) {
    const set = e.collateral_set as string;
    if (seen.has(set)) continue;
    const dir = (e.collateral_json as string).replace(/\/collateral\.json$/, '');
    seen.set(set, { set, dir, at: new Date(e.verify_at), entry: e });
  }
  return [...seen.values()];
}

describe.skipIf(!VECTORS)('collateral vectors', () => {
  const sets = VECTORS ? collateralSets() : [];

  it.each(sets.map((s) => [s.set, s] as const))(
    '%s: both formats load identically and verify',
    async (_n, s) => {
      const fromJson = await loadIntelCollateral(vectorPath(`${s.dir}/collateral.json`));
      const fromDir = await loadIntelCollateral(vectorPath(s.dir));
      expect(fromDir.tcbInfo.text).toBe(fromJson.tcbInfo.text);
      expect(fromDir.qeIdentity.text).toBe(fromJson.qeIdentity.text);
      expect(collateralDigest(fromDir)).toBe(collateralDigest(fromJson));
      // The PCS file holds the signed text verbatim inside a larger object.
      expect(readVectorText(`${s.dir}/tcb_info.json`)).toContain(fromJson.tcbInfo.text);

      const v = verifyCollateral(fromJson, { now: s.at, cache: new VerifyCache() });
      expect(['SGX', 'TDX']).toContain(v.tcbInfo.id);
      expect(['QE', 'TD_QE']).toContain(v.qeIdentity.id);
      expect(v.issuedAt.getTime()).toBeLessThanOrEqual(s.at.getTime());
      expect(v.pckCrlIssuer.subject).toMatch(/PCK (Platform|Processor) CA/);
      const w = s.entry.valid_window;
      if (w) {
        // The whole valid window verifies; just outside it, a window fails.
        verifyCollateral(fromJson, { now: new Date(w.from), cache: new VerifyCache() });
        verifyCollateral(fromJson, { now: new Date(w.to), cache: new VerifyCache() });
        expect(codeOf(() => verifyCollateral(fromJson, { now: new Date(Date.parse(w.to) + DAY) }))).toBe(
          'COLLATERAL_EXPIRED',
        );
        expect(
          ['COLLATERAL_NOT_YET_VALID', 'COLLATERAL_EXPIRED'].includes(
            codeOf(() => verifyCollateral(fromJson, { now: new Date(Date.parse(w.from) - 40 * DAY) })),
          ),
        ).toBe(true);
      }
    },
  );

  const base = sets.find((s) => s.set === 'phala-tdx-b0c06f-2025-06');
  const load = () => parseCollateralJson(readVectorText(`${base!.dir}/collateral.json`));
  const at = () => base!.at;

  it('says which item expired', () => {
    const c = load();
    const tcbNext = verifyCollateral(c, { now: at() }).tcbInfo.nextUpdate;
    const e = errorOf(() => verifyCollateral(c, { now: new Date(tcbNext.getTime() + 1000) }));
    expect(e.code).toBe('COLLATERAL_EXPIRED');
    // PCK CRL (2025-07-19T10:00:35Z) runs out before TCB Info (10:16:03Z).
    expect(e.info.item).toBe('PCK CRL');
    const e2 = errorOf(() => verifyCollateral(c, { now: new Date('2025-06-19T10:20:00Z') }));
    expect(e2.code).toBe('COLLATERAL_NOT_YET_VALID');
    expect(e2.info.item).toBe('QE Identity');
  });

  it('rejects a changed byte of the signed TCB Info / QE Identity text', () => {
    const c = load();
    const tcbText = c.tcbInfo.text.replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":18');
    expect(tcbText).not.toBe(c.tcbInfo.text);
    const bad: IntelCollateral = { ...c, tcbInfo: { ...c.tcbInfo, text: tcbText } };
    expect(codeOf(() => verifyCollateral(bad, { now: at() }))).toBe('TCB_INFO_SIGNATURE_INVALID');
    // Re-serialising (what a careless loader does) breaks the signature too.
    const reser: IntelCollateral = {
      ...c,
      tcbInfo: { ...c.tcbInfo, text: JSON.stringify(JSON.parse(c.tcbInfo.text), null, 1) },
    };
    expect(codeOf(() => verifyCollateral(reser, { now: at() }))).toBe('TCB_INFO_SIGNATURE_INVALID');
    const qeText = c.qeIdentity.text.replace('"isvprodid":2', '"isvprodid":3');
    expect(qeText).not.toBe(c.qeIdentity.text);
    const badQe: IntelCollateral = { ...c, qeIdentity: { ...c.qeIdentity, text: qeText } };
    expect(codeOf(() => verifyCollateral(badQe, { now: at() }))).toBe('QE_IDENTITY_SIGNATURE_INVALID');
    const sig = c.tcbInfo.signature.slice();
    sig[10] = sig[10]! ^ 1;
    expect(
      codeOf(() => verifyCollateral({ ...c, tcbInfo: { ...c.tcbInfo, signature: sig } }, { now: at() })),
    ).toBe('TCB_INFO_SIGNATURE_INVALID');
    // Swapped signatures: each object is signed, but not by the other's signature.
    const swapped: IntelCollateral = {
      ...c,
      tcbInfo: { ...c.tcbInfo, signature: c.qeIdentity.signature },
    };
    expect(codeOf(() => verifyCollateral(swapped, { now: at() }))).toBe('TCB_INFO_SIGNATURE_INVALID');
  });

  it('accepts high-S signatures (Intel does not normalise S)', () => {
    // n - s is the other valid signature of the same message; one of the two is high-S.
    const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const c = load();
    const s = BigInt(`0x${Buffer.from(c.tcbInfo.signature.subarray(32)).toString('hex')}`);
    const flipped = (n - s).toString(16).padStart(64, '0');
    const sig = new Uint8Array([...c.tcbInfo.signature.subarray(0, 32), ...Buffer.from(flipped, 'hex')]);
    verifyCollateral({ ...c, tcbInfo: { ...c.tcbInfo, signature: sig } }, { now: at() });
  });

  it('rejects collateral under an unpinned root and mixed-up chains and CRLs', () => {
    const c = load();
    const roots = { ...DEFAULT_TRUST_ROOTS, intel: [new Uint8Array(32)] };
    expect(codeOf(() => verifyCollateral(c, { now: at(), roots }))).toBe('ROOT_NOT_TRUSTED');
    // The PCK CA chain cannot vouch for the TCB Info.
    expect(
      codeOf(() =>
        verifyCollateral(
          { ...c, tcbInfo: { ...c.tcbInfo, issuerChain: c.pckCrlIssuerChain } },
          { now: at() },
        ),
      ),
    ).toBe('TCB_INFO_SIGNATURE_INVALID');
    // Root CA CRL in place of the PCK CRL: issued by a different CA.
    expect(codeOf(() => verifyCollateral({ ...c, pckCrl: c.rootCaCrl }, { now: at() }))).toBe('CRL_INVALID');
    expect(codeOf(() => verifyCollateral({ ...c, rootCaCrl: c.pckCrl }, { now: at() }))).toBe('CRL_INVALID');
    // A chain with only the root.
    const rootOnly = c.tcbInfo.issuerChain.slice(
      c.tcbInfo.issuerChain.indexOf('-----END CERTIFICATE-----') + 25,
    );
    expect(
      codeOf(() =>
        verifyCollateral({ ...c, tcbInfo: { ...c.tcbInfo, issuerChain: rootOnly } }, { now: at() }),
      ),
    ).toBe('CERT_CHAIN_INVALID');
    const r = tryVerifyCollateral(c, { now: at(), roots });
    expect(r.ok).toBe(false);
    expect(tryVerifyCollateral(c, { now: at() }).ok).toBe(true);
  });

  it('rejects malformed signed JSON with COLLATERAL_MALFORMED before any crypto', () => {
    const c = load();
    const t = c.tcbInfo.text;
    const cases = [
      t.replace('"fmspc":', '"fmspcX":'),
      t.replace('"version":3', '"version":4'),
      t.replace('"id":"TDX"', '"id":"SEV"'),
      t.replace('"tcbStatus":"UpToDate"', '"tcbStatus":"Fine"'),
      t.replace('"issueDate":"2025-06-19T10:16:03Z"', '"issueDate":"19/06/2025"'),
      t.replace(/"tdxtcbcomponents":\[\{"svn":\d+/, '"tdxtcbcomponents":[{"svn":-1'),
      t.replace('"tdxModule":', '"tdxModuleX":'),
      '[]',
    ];
    for (const text of cases) {
      expect(text).not.toBe(t);
      const e = errorOf(() => verifyCollateral({ ...c, tcbInfo: { ...c.tcbInfo, text } }, { now: at() }));
      expect(e.code).toBe('COLLATERAL_MALFORMED');
    }
    const q = c.qeIdentity.text;
    for (const text of [
      q.replace('"mrsigner":', '"mrsignr":'),
      q.replace('"isvprodid":2', '"isvprodid":"2"'),
    ]) {
      expect(text).not.toBe(q);
      expect(
        codeOf(() => verifyCollateral({ ...c, qeIdentity: { ...c.qeIdentity, text } }, { now: at() })),
      ).toBe('COLLATERAL_MALFORMED');
    }
  });

  it('refuses an invalid `now` instead of passing every window', () => {
    expect(codeOf(() => verifyCollateral(load(), { now: new Date(Number.NaN) }))).toBe('INVALID_ARGUMENT');
  });

  it('memoises signatures but re-checks windows on a cache hit', () => {
    const c = load();
    const cache = new VerifyCache();
    verifyCollateral(c, { now: at(), cache });
    const size = cache.size;
    expect(size).toBeGreaterThan(0);
    verifyCollateral(c, { now: at(), cache });
    expect(cache.size).toBe(size);
    expect(codeOf(() => verifyCollateral(c, { now: new Date('2025-08-01T00:00:00Z'), cache }))).toBe(
      'COLLATERAL_EXPIRED',
    );
    expect(codeOf(() => verifyCollateral(c, { now: new Date('2025-06-01T00:00:00Z'), cache }))).toBe(
      'COLLATERAL_NOT_YET_VALID',
    );
    // A changed text is a different cache key: still refused.
    const text = c.tcbInfo.text.replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":16');
    expect(
      codeOf(() => verifyCollateral({ ...c, tcbInfo: { ...c.tcbInfo, text } }, { now: at(), cache })),
    ).toBe('TCB_INFO_SIGNATURE_INVALID');
  });

  it('reports missing files and paths', async () => {
    expect(await codeOfAsync(loadIntelCollateral(vectorPath('does-not-exist')))).toBe('COLLATERAL_MISSING');
    expect(await codeOfAsync(loadIntelCollateral(vectorPath('tdx/roots')))).toBe('COLLATERAL_MISSING');
    expect(await codeOfAsync(loadIntelCollateral(vectorPath('tdx/roots/Intel_SGX_Root_CA.pem')))).toBe(
      'COLLATERAL_MALFORMED',
    );
  });
});

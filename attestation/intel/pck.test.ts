import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/error-code.js';
import { readVector, VECTORS, type VectorIndexEntry, vectorIndex } from '../../test/vectors.js';
import { fromHex, toHex } from '../bytes.js';
import { VerifyCache } from '../cache.js';
import { isAttestationError } from '../errors.js';
import { DEFAULT_TRUST_ROOTS } from '../roots.js';
import { parsePemChain } from '../x509.js';
import { parsePckExtensions, parsePckExtensionsDer, verifyPckChain } from './pck.js';
import { parseQuote } from './quote.js';

describe.skipIf(!VECTORS)('PCK certificates of the hardware vectors', () => {
  const index = VECTORS ? vectorIndex() : { tdx: [], sgx: [] };
  const all: VectorIndexEntry[] = [...index.tdx, ...index.sgx];
  const pins = DEFAULT_TRUST_ROOTS.intel;

  it.each(all.map((v) => [v.id, v] as const))('%s: SGX extension matches the index facts', (_id, v) => {
    const f = v.facts as Record<string, unknown>;
    const q = parseQuote(readVector(v.quote as string));
    const [pck] = parsePemChain(Buffer.from(q.pckCertChain).toString('latin1'), 'chain');
    const ext = parsePckExtensions(pck!);
    expect(toHex(ext.fmspc).toUpperCase()).toBe(f.fmspc);
    expect(ext.tcbComponents).toEqual(f.pck_tcb_comp_svns);
    expect(ext.pceSvn).toBe(f.pck_pcesvn);
    expect(Array.from(ext.cpuSvn)).toEqual(f.pck_tcb_comp_svns);
    expect(ext.ppid.length).toBe(16);
    expect(ext.pceId.length).toBe(2);
    expect([0, 1, 2]).toContain(ext.sgxType);
    if (v.id === 'v4-trustee-00a06d08-outofdate-pcesvn') expect(ext.sgxType).toBe(2);
  });

  const q = VECTORS ? parseQuote(readVector('tdx/quotes/v4-phala-b0c06f-uptodate.bin')) : undefined;
  const pem = q ? Buffer.from(q.pckCertChain).toString('latin1') : '';
  const at = new Date('2025-07-01T00:00:00Z');

  it('a certificate without the SGX extension is CERT_MALFORMED', () => {
    const [, ca, root] = parsePemChain(pem, 'chain');
    expect(codeOf(() => parsePckExtensions(ca!))).toBe('CERT_MALFORMED');
    expect(codeOf(() => parsePckExtensions(root!))).toBe('CERT_MALFORMED');
  });

  it('property: corrupted certificate DER never crashes the extension reader', () => {
    const [pck] = parsePemChain(pem, 'chain');
    const der = new Uint8Array(pck!.raw);
    fc.assert(
      fc.property(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 }), (i, b) => {
        const m = der.slice();
        m[i] = b;
        try {
          parsePckExtensionsDer(m);
        } catch (e) {
          if (!isAttestationError(e, 'CERT_MALFORMED')) throw e;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('verifyPckChain: verifies, caches, and re-checks windows on a hit', () => {
    const cache = new VerifyCache();
    const a = verifyPckChain(q!.pckCertChain, { now: at, pinnedRoots: pins, cache });
    const b = verifyPckChain(q!.pckCertChain, { now: at, pinnedRoots: pins, cache });
    expect(b).toBe(a);
    expect(cache.size).toBe(1);
    // A cache hit does not let an expired or not-yet-valid PCK through.
    expect(
      codeOf(() =>
        verifyPckChain(q!.pckCertChain, { now: new Date('2040-01-01'), pinnedRoots: pins, cache }),
      ),
    ).toBe('COLLATERAL_EXPIRED');
    expect(
      codeOf(() =>
        verifyPckChain(q!.pckCertChain, { now: new Date('2020-01-01'), pinnedRoots: pins, cache }),
      ),
    ).toBe('COLLATERAL_NOT_YET_VALID');
    // Other pins are another cache entry and fail.
    const other = [fromHex('00'.repeat(32))];
    expect(codeOf(() => verifyPckChain(q!.pckCertChain, { now: at, pinnedRoots: other, cache }))).toBe(
      'ROOT_NOT_TRUSTED',
    );
  });

  it('verifyPckChain: needs exactly PCK, CA and root', () => {
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)!;
    const two = new TextEncoder().encode(blocks.slice(0, 2).join('\n'));
    expect(codeOf(() => verifyPckChain(two, { now: at, pinnedRoots: pins }))).toBe('CERT_CHAIN_INVALID');
    const four = new TextEncoder().encode([...blocks, blocks[2]].join('\n'));
    expect(codeOf(() => verifyPckChain(four, { now: at, pinnedRoots: pins }))).toBe('CERT_CHAIN_INVALID');
    const swapped = new TextEncoder().encode([blocks[1], blocks[0], blocks[2]].join('\n'));
    expect(codeOf(() => verifyPckChain(swapped, { now: at, pinnedRoots: pins }))).toBe('CERT_CHAIN_INVALID');
    expect(
      codeOf(() => verifyPckChain(new TextEncoder().encode('nothing'), { now: at, pinnedRoots: pins })),
    ).toBe('CERT_MALFORMED');
  });
});

import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/error-code.js';
import { readVector, readVectorText, VECTORS, vectorIndex } from '../../test/vectors.js';
import { verifyEvidence } from '../check.js';
import {
  buildSnpCertTable,
  MAX_CERT_TABLE_BYTES,
  parseSnpCertTable,
  SNP_CERT_GUIDS,
  snpCollateralFromCertTable,
} from './cert-table.js';

const der = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('parseSnpCertTable', () => {
  it('reads the entries by GUID and names the unknown ones', () => {
    const t = buildSnpCertTable({ vcek: bytes(40, 1), ask: bytes(30, 2), ark: bytes(20, 3) });
    // Append an unknown entry by hand: rebuild with a foreign GUID in the first slot.
    const withOther = new Uint8Array(t.length + 24 + 8);
    withOther.set(t.subarray(0, 72), 0); // three entries
    withOther.set(Buffer.from('00112233445566778899aabbccddeeff', 'hex'), 72);
    const view = new DataView(withOther.buffer);
    // Shift the three certificates by one entry (24 bytes) and point the entries at them.
    withOther.set(t.subarray(96), 120);
    for (let i = 0; i < 3; i++) view.setUint32(i * 24 + 16, view.getUint32(i * 24 + 16, true) + 24, true);
    view.setUint32(72 + 16, t.length + 24, true);
    view.setUint32(72 + 20, 8, true);
    const parsed = parseSnpCertTable(withOther);
    expect(parsed.entries.vcek).toEqual(bytes(40, 1));
    expect(parsed.entries.ask).toEqual(bytes(30, 2));
    expect(parsed.entries.ark).toEqual(bytes(20, 3));
    expect(parsed.unknown).toEqual(['00112233-4455-6677-8899-aabbccddeeff']);
  });

  it('stores GUIDs in the byte order of their text form', () => {
    const t = buildSnpCertTable({ vcek: bytes(4, 9) });
    expect(Buffer.from(t.subarray(0, 16)).toString('hex')).toBe(SNP_CERT_GUIDS.vcek.replaceAll('-', ''));
  });

  it('an empty table (terminator only) has no entries', () => {
    expect(parseSnpCertTable(new Uint8Array(24))).toEqual({ entries: {}, unknown: [] });
  });

  const good = () => buildSnpCertTable({ vcek: bytes(40, 1), ark: bytes(20, 3) });
  const setU32 = (t: Uint8Array, at: number, v: number) => new DataView(t.buffer).setUint32(at, v, true);
  const cases: [string, () => Uint8Array][] = [
    ['empty input', () => new Uint8Array(0)],
    ['no terminator', () => good().subarray(0, 48)],
    ['truncated inside the entry array', () => good().subarray(0, 60)],
    [
      'entry past the end',
      () => {
        const t = good();
        setU32(t, 20, 10_000);
        return t;
      },
    ],
    [
      'offset past the end',
      () => {
        const t = good();
        setU32(t, 16, t.length);
        return t;
      },
    ],
    [
      'zero length',
      () => {
        const t = good();
        setU32(t, 20, 0);
        return t;
      },
    ],
    [
      'certificate overlapping the entry array',
      () => {
        const t = good();
        setU32(t, 16, 8);
        return t;
      },
    ],
    [
      'duplicate GUID',
      () => {
        const t = good();
        t.set(t.subarray(0, 16), 24);
        return t;
      },
    ],
    ['larger than the cap', () => new Uint8Array(MAX_CERT_TABLE_BYTES + 1)],
  ];
  for (const [name, make] of cases)
    it(`refuses: ${name}`, () =>
      expect(codeOf(() => parseSnpCertTable(make()))).toBe('COLLATERAL_MALFORMED'));

  it('refuses an ASK that is not a certificate when building the chain', () => {
    const t = buildSnpCertTable({ vcek: bytes(40, 1), ask: bytes(30, 2), ark: bytes(20, 3) });
    expect(codeOf(() => snpCollateralFromCertTable(t))).toBe('CERT_MALFORMED');
  });

  it('leaves the chain out when the host gave only the VCEK', () => {
    expect(snpCollateralFromCertTable(buildSnpCertTable({ vcek: bytes(40, 1) }))).toEqual({
      vcek: bytes(40, 1),
    });
  });
});

describe.skipIf(!VECTORS)(
  'a host certificate table built from the real certificates verifies the real reports',
  () => {
    const entries = VECTORS ? vectorIndex().sev_snp : [];
    for (const e of entries) {
      const f = e.files as Record<string, string>;
      if (!f.report) continue;
      it(`${e.id}: ${e.expected.verdict}`, () => {
        const [ask, ark] = readVectorText(f.signer_chain!)
          .split(/(?<=-----END CERTIFICATE-----)\s*/)
          .filter((s) => s.includes('BEGIN'));
        const key = f.vcek ? { vcek: readVector(f.vcek) } : { vlek: readVector(f.vlek!) };
        // A VLEK chain's intermediate is the ASVK; the table carries it in the ASK slot.
        const table = buildSnpCertTable({ ...key, ask: der(ask!), ark: der(ark!) });
        const snp = snpCollateralFromCertTable(table);
        const run = () =>
          verifyEvidence({ evidence: readVector(f.report!), snp }, { now: new Date(e.verify_at) });
        if (e.expected.verdict === 'reject') expect(codeOf(run)).toBe('CERT_CHAIN_INVALID');
        else expect(run().tee).toBe('sev-snp');
        // Without the chain the verifier refuses: the table's absence of ASK/ARK is not papered over.
        const bare = snpCollateralFromCertTable(buildSnpCertTable(key));
        expect(
          codeOf(() =>
            verifyEvidence({ evidence: readVector(f.report!), snp: bare }, { now: new Date(e.verify_at) }),
          ),
        ).toBe('COLLATERAL_MISSING');
      });
    }
  },
);

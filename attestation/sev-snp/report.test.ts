import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/error-code.js';
import { readVector, VECTORS, type VectorIndexEntry, vectorIndex } from '../../test/vectors.js';
import { toHex } from '../bytes.js';
import { isAttestationError } from '../errors.js';
import { parseSnpReport, SNP_REPORT_SIZE } from './report.js';
import { decodeTcb, encodeTcb, productFromCpuid } from './tcb.js';
import { verifySnpReport } from './verify.js';

interface Facts {
  version: number;
  guest_svn: number;
  policy: string;
  vmpl: number;
  platform_info: string;
  signer_info: string;
  signing_key: string;
  mask_chip_key: boolean;
  author_key_en: boolean;
  cpuid_fam_mod_step: string[] | null;
  current_tcb: { raw: string };
  reported_tcb: {
    raw: string;
    bootloader: number;
    tee: number;
    snp: number;
    microcode: number;
    fmc?: number;
  };
  committed_tcb: { raw: string };
  launch_tcb: { raw: string };
  firmware_current: string;
  firmware_committed: string;
  launch_mit_vector: string | null;
  current_mit_vector: string | null;
  measurement: string;
  report_data: string;
  host_data: string;
  id_key_digest: string;
  author_key_digest: string;
  chip_id: string;
}

const withReports = (): VectorIndexEntry[] =>
  VECTORS ? vectorIndex().sev_snp.filter((e) => (e.files as Record<string, string>).report) : [];

describe('TCB_VERSION decoding (#56860 table "TCB_VERSION Structure")', () => {
  it('reads the Milan/Genoa and Turin layouts and checks their reserved bytes', () => {
    const turinRaw = Uint8Array.from([1, 3, 2, 5, 0, 0, 0, 0x61]);
    expect(decodeTcb(turinRaw, 'turin', 't')).toEqual({
      fmc: 1,
      bootloader: 3,
      tee: 2,
      snp: 5,
      microcode: 97,
    });
    // Read with the Milan layout, Turin's TEE/SNP bytes land in Milan's reserved bytes 2..3.
    expect(codeOf(() => decodeTcb(turinRaw, 'milan-genoa', 't'))).toBe('SNP_RESERVED_NONZERO');
    const milan = Uint8Array.from([3, 0, 0, 0, 0, 0, 8, 0x73]);
    expect(decodeTcb(milan, 'milan-genoa', 'm')).toEqual({ bootloader: 3, tee: 0, snp: 8, microcode: 115 });
    expect(encodeTcb(decodeTcb(milan, 'milan-genoa', 'm'), 'milan-genoa')).toEqual(milan);
    expect(encodeTcb(decodeTcb(turinRaw, 'turin', 't'), 'turin')).toEqual(turinRaw);
    expect(codeOf(() => decodeTcb(Uint8Array.from([3, 0, 1, 0, 0, 0, 8, 0x73]), 'milan-genoa', 'm'))).toBe(
      'SNP_RESERVED_NONZERO',
    );
    expect(codeOf(() => decodeTcb(Uint8Array.from([1, 3, 2, 5, 0, 0, 1, 0x61]), 'turin', 't'))).toBe(
      'SNP_RESERVED_NONZERO',
    );
  });

  it('maps CPUID family/model to products', () => {
    expect(productFromCpuid(0x19, 0x01)).toBe('Milan');
    expect(productFromCpuid(0x19, 0x11)).toBe('Genoa');
    expect(productFromCpuid(0x1a, 0x02)).toBe('Turin');
    expect(productFromCpuid(0x1a, 0x12)).toBeUndefined();
    expect(productFromCpuid(0x17, 0x31)).toBeUndefined();
  });
});

describe.skipIf(!VECTORS)('parseSnpReport on the real vectors', () => {
  for (const e of withReports()) {
    it(`${e.id}: every field equals the vector's facts`, () => {
      const f = e.facts as unknown as Facts;
      const raw = readVector((e.files as Record<string, string>).report!);
      const r = parseSnpReport(raw);
      expect(r.version).toBe(f.version);
      expect(r.guestSvn).toBe(f.guest_svn);
      expect(r.policy).toBe(BigInt(f.policy));
      expect(r.vmpl).toBe(f.vmpl);
      expect(r.platformInfo).toBe(BigInt(f.platform_info));
      expect(r.signerInfo.signingKey).toBe(f.signing_key.toLowerCase());
      expect(r.signerInfo.maskChipKey).toBe(f.mask_chip_key);
      expect(r.signerInfo.authorKeyEn).toBe(f.author_key_en);
      if (f.cpuid_fam_mod_step) {
        const [fam, mod, step] = f.cpuid_fam_mod_step.map((x) => Number(x));
        expect(r.cpuid).toEqual({ family: fam, model: mod, stepping: step });
        expect(r.cpuidProduct).toBe(String(e.product).charAt(0).toUpperCase() + String(e.product).slice(1));
      } else {
        expect(r.cpuid).toBeUndefined();
      }
      const { raw: _r, ...tcb } = f.reported_tcb;
      expect(r.reportedTcb).toEqual(tcb);
      expect(toHex(r.reportedTcbRaw)).toBe(f.reported_tcb.raw);
      expect(toHex(raw.subarray(0x38, 0x40))).toBe(f.current_tcb.raw);
      expect(toHex(raw.subarray(0x1e0, 0x1e8))).toBe(f.committed_tcb.raw);
      expect(toHex(raw.subarray(0x1f0, 0x1f8))).toBe(f.launch_tcb.raw);
      const v = r.currentVersion;
      expect(`${v.major}.${v.minor}.${v.build}`).toBe(f.firmware_current);
      const c = r.committedVersion;
      expect(`${c.major}.${c.minor}.${c.build}`).toBe(f.firmware_committed);
      expect(r.launchMitVector === undefined ? null : `0x${r.launchMitVector.toString(16)}`).toBe(
        f.launch_mit_vector,
      );
      expect(r.currentMitVector === undefined ? null : `0x${r.currentMitVector.toString(16)}`).toBe(
        f.current_mit_vector,
      );
      expect(toHex(r.measurement)).toBe(f.measurement);
      expect(toHex(r.reportData)).toBe(f.report_data);
      expect(toHex(r.hostData)).toBe(f.host_data);
      expect(toHex(r.idKeyDigest)).toBe(f.id_key_digest);
      expect(toHex(r.authorKeyDigest)).toBe(f.author_key_digest);
      expect(toHex(r.chipId)).toBe(f.chip_id);
      expect(r.signature.r.length).toBe(48);
      expect(r.signature.s.length).toBe(48);
      // R is stored little-endian at 0x2A0: its first stored byte is the last big-endian byte.
      expect(r.signature.r[47]).toBe(raw[0x2a0]);
      // parse copies: mutating the input afterwards changes nothing.
      raw[0x50] = raw[0x50]! ^ 1;
      expect(toHex(r.reportData)).toBe(f.report_data);
    });
  }

  it('refuses short, long and unsupported-version reports', () => {
    const raw = readVector('sev-snp/milan-v5-gcp/report.bin');
    expect(codeOf(() => parseSnpReport(raw.subarray(0, SNP_REPORT_SIZE - 1)))).toBe('SNP_REPORT_TRUNCATED');
    expect(codeOf(() => parseSnpReport(new Uint8Array(0)))).toBe('SNP_REPORT_TRUNCATED');
    const long = new Uint8Array(SNP_REPORT_SIZE + 1);
    long.set(raw);
    expect(codeOf(() => parseSnpReport(long))).toBe('SNP_BAD_FIELD');
    for (const v of [0, 1, 4, 6, 0x102]) {
      const b = raw.slice();
      new DataView(b.buffer).setUint32(0, v, true);
      expect(codeOf(() => parseSnpReport(b))).toBe('SNP_UNSUPPORTED_VERSION');
    }
  });

  it('refuses SIGNING_KEY values other than 0, 1, 7 and accepts 7 at parse (verify refuses it)', () => {
    const raw = readVector('sev-snp/milan-v5-gcp/report.bin');
    for (let k = 0; k < 8; k++) {
      const b = raw.slice();
      b[0x48] = (b[0x48]! & ~0x1c) | (k << 2);
      const code = codeOf(() => parseSnpReport(b));
      expect(code).toBe(k === 0 || k === 1 || k === 7 ? 'ok' : 'SNP_BAD_FIELD');
    }
    const unsigned = raw.slice();
    unsigned[0x48] = unsigned[0x48]! | 0x1c;
    expect(
      codeOf(() =>
        verifySnpReport(unsigned, {
          now: new Date('2025-12-07T00:00:00Z'),
          vcek: readVector('sev-snp/milan-v5-gcp/vcek.der'),
        }),
      ),
    ).toBe('SNP_SIGNING_KEY_MISMATCH');
  });

  it('refuses a hypervisor-requested report (VMPL 0xFFFFFFFF)', () => {
    const b = readVector('sev-snp/milan-v5-gcp/report.bin').slice();
    new DataView(b.buffer).setUint32(0x30, 0xffffffff, true);
    expect(codeOf(() => parseSnpReport(b))).toBe('SNP_BAD_FIELD');
  });

  it('reports the offset of a non-zero reserved byte', () => {
    const b = readVector('sev-snp/milan-v5-gcp/report.bin').slice();
    b[0x210] = 1;
    try {
      parseSnpReport(b);
      expect.unreachable();
    } catch (e) {
      expect(isAttestationError(e, 'SNP_RESERVED_NONZERO')).toBe(true);
      expect((e as { info: { offset: number } }).info.offset).toBe(0x210);
    }
  });
});

describe('parseSnpReport property tests (fast-check)', () => {
  const now = new Date('2025-12-07T00:00:00Z');
  it('arbitrary bytes never crash and always end in an AttestationError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1400 }), (bytes) => {
        // Parse alone may succeed only for structurally valid bytes; parse+verify never succeeds.
        const code = codeOf(() => verifySnpReport(parseSnpReport(bytes), { now, vcek: new Uint8Array(8) }));
        return code !== 'ok' && !code.startsWith('crash');
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary 1184-byte reports that start like a real one still end in an AttestationError', () => {
    const header = Uint8Array.from([2, 0, 0, 0]);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: SNP_REPORT_SIZE, maxLength: SNP_REPORT_SIZE }), (bytes) => {
        bytes.set(header);
        const code = codeOf(() => verifySnpReport(bytes, { now, vcek: new Uint8Array(8) }));
        return code !== 'ok' && !code.startsWith('crash');
      }),
      { numRuns: 300 },
    );
  });

  it.skipIf(!VECTORS)(
    'random overwrites of a real report are refused with an AttestationError unless nothing changed',
    () => {
      const raw = VECTORS ? readVector('sev-snp/milan-v3-azure/report.bin') : new Uint8Array();
      const vcek = VECTORS ? readVector('sev-snp/milan-v3-azure/vcek.der') : new Uint8Array();
      const chain = VECTORS
        ? Buffer.from(readVector('sev-snp/roots/milan/cert_chain_vcek.pem')).toString('utf8')
        : '';
      fc.assert(
        fc.property(
          fc.array(
            fc.tuple(fc.integer({ min: 0, max: SNP_REPORT_SIZE - 1 }), fc.integer({ min: 0, max: 255 })),
            {
              minLength: 1,
              maxLength: 6,
            },
          ),
          (edits) => {
            const b = raw.slice();
            for (const [at, v] of edits) b[at] = v;
            const code = codeOf(() => verifySnpReport(b, { now, vcek, chain }));
            const unchanged = b.every((x, i) => x === raw[i]);
            return unchanged ? code === 'ok' : code !== 'ok' && !code.startsWith('crash');
          },
        ),
        { numRuns: 300 },
      );
    },
  );
});

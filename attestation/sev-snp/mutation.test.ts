import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/error-code.js';
import {
  readVector,
  readVectorText,
  VECTORS,
  type VectorIndexEntry,
  vectorIndex,
} from '../../test/vectors.js';
import { VerifyCache } from '../cache.js';
import type { AttestationErrorCode } from '../errors.js';
import { DEFAULT_TRUST_ROOTS } from '../roots.js';
import { type SnpVerifyOptions, verifySnpReport } from './verify.js';

/*
 * Mutation corpus generated from the real vectors: every mutation must be refused with one exact
 * code, predicted by the naive reference classifier below, which restates #56860 table 23 byte by
 * byte (independently of report.ts's offset table).
 */

type Code = AttestationErrorCode | 'ok';

interface Sample {
  readonly id: string;
  readonly raw: Uint8Array;
  readonly version: number;
  readonly turin: boolean;
  readonly vlek: boolean;
  readonly opts: SnpVerifyOptions;
}

const SIG: Code = 'SNP_SIGNATURE_INVALID';
const RES: Code = 'SNP_RESERVED_NONZERO';
const BAD: Code = 'SNP_BAD_FIELD';

/** Expected code when bit 0 of byte `at` of a genuine report is flipped (reference classifier). */
function expectBit0(s: Sample, at: number): Code {
  const tcbReserved = (i: number) => (s.turin ? i >= 4 && i <= 6 : i >= 2 && i <= 5);
  const inTcb = (base: number) => at >= base && at < base + 8;
  if (at === 0x00)
    return s.version === 2
      ? BAD /* v3 with zero CPUID */
      : s.version === 3
        ? RES /* v2 with CPUID set */
        : 'SNP_UNSUPPORTED_VERSION';
  if (at <= 0x03) return 'SNP_UNSUPPORTED_VERSION';
  if (at <= 0x07) return SIG; // GUEST_SVN
  if (at <= 0x0b) return SIG; // POLICY bits 0, 8, 16, 24 (ABI minor/major, SMT, CIPHERTEXT_HIDING)
  if (at <= 0x0f) return RES; // POLICY bits 32, 40, 48, 56: reserved
  if (at <= 0x2f) return SIG; // FAMILY_ID, IMAGE_ID
  if (at === 0x30) return SIG; // VMPL 0↔1
  if (at <= 0x33) return BAD; // VMPL > 3
  if (at <= 0x37) return BAD; // SIGNATURE_ALGO ≠ 1
  for (const base of [0x38, 0x180, 0x1e0, 0x1f0]) if (inTcb(base)) return tcbReserved(at - base) ? RES : SIG;
  if (at <= 0x47) return SIG; // PLATFORM_INFO
  if (at === 0x48) return SIG; // AUTHOR_KEY_EN
  if (at <= 0x4b) return RES; // SIGNER_INFO bits 8.. reserved
  if (at <= 0x4f) return RES; // reserved
  if (at <= 0x17f) return SIG; // REPORT_DATA .. REPORT_ID_MA
  if (at === 0x188) return s.version === 2 ? RES : BAD; // CPUID_FAM_ID 19h→18h / 1Ah→1Bh: unknown product
  if (at <= 0x18a) return s.version === 2 ? RES : SIG; // CPUID_MOD_ID (stays in its product's range), CPUID_STEP
  if (at <= 0x19f) return RES;
  if (at <= 0x1df) return SIG; // CHIP_ID
  if (at === 0x1eb || at === 0x1ef) return RES;
  if (at <= 0x1ef) return SIG; // CURRENT/COMMITTED build, minor, major
  if (at <= 0x207) return s.version >= 5 ? SIG : RES; // LAUNCH_MIT_VECTOR, CURRENT_MIT_VECTOR (v5)
  if (at <= 0x29f) return RES;
  // SIGNATURE: R scalar, R upper bytes, S scalar, S upper bytes, rest.
  if (at < 0x2a0 + 48) return SIG;
  if (at < 0x2a0 + 72) return RES;
  if (at < 0x2e8 + 48) return SIG;
  return RES;
}

function samples(): Sample[] {
  if (!VECTORS) return [];
  return vectorIndex()
    .sev_snp.filter((e: VectorIndexEntry) => {
      const f = e.files as Record<string, string>;
      return f.report && e.expected.verdict !== 'reject';
    })
    .map((e) => {
      const f = e.files as Record<string, string>;
      const raw = readVector(f.report!);
      const facts = e.facts as Record<string, unknown>;
      return {
        id: e.id,
        raw,
        version: facts.version as number,
        turin: e.product === 'turin',
        vlek: !!f.vlek,
        opts: {
          now: new Date(e.verify_at),
          ...(f.vcek && { vcek: readVector(f.vcek) }),
          ...(f.vlek && { vlek: readVector(f.vlek) }),
          chain: readVectorText(f.signer_chain!),
          cache: new VerifyCache(),
        },
      };
    });
}

const flip = (raw: Uint8Array, at: number, bit: number) => {
  const b = raw.slice();
  b[at] = b[at]! ^ (1 << bit);
  return b;
};

describe.skipIf(!VECTORS)('mutation corpus from the real SEV-SNP vectors', () => {
  const all = samples();

  it('covers every report vector except the negative one', () => {
    expect(all.length).toBe(10);
  });

  for (const s of all) {
    it(`${s.id}: bit 0 flipped in each of the 1184 bytes → the exact code; none accepted`, () => {
      expect(verifySnpReport(s.raw, s.opts).tee).toBe('sev-snp');
      const wrong: string[] = [];
      for (let at = 0; at < s.raw.length; at++) {
        const got = codeOf(() => verifySnpReport(flip(s.raw, at, 0), s.opts));
        const want = expectBit0(s, at);
        if (got !== want) wrong.push(`0x${at.toString(16)}: got ${got}, want ${want}`);
      }
      expect(wrong).toEqual([]);
    });

    it(`${s.id}: targeted bit flips in the fields that have rules`, () => {
      const cases: [number, number, Code][] = [
        [0x00, 1, 'SNP_UNSUPPORTED_VERSION'], // 2→0, 3→1, 5→7
        [0x0a, 1, BAD], // POLICY bit 17 must be one
        [0x0a, 3, SIG], // POLICY.DEBUG: signed, so a flip breaks the signature
        [0x0a, 2, SIG], // POLICY.MIGRATE_MA
        [0x0b, 2, RES], // POLICY bit 26: first reserved bit
        [0x0f, 7, RES], // POLICY bit 63
        [0x30, 2, BAD], // VMPL 4/5
        [0x34, 1, BAD], // SIGNATURE_ALGO 3
        [0x40, 7, SIG], // PLATFORM_INFO bit 7
        [0x48, 1, SIG], // MASK_CHIP_KEY
        [0x48, 2, 'SNP_SIGNING_KEY_MISMATCH'], // SIGNING_KEY VCEK↔VLEK: the other key is not given
        [0x48, 3, BAD], // SIGNING_KEY 2 or 3
        [0x48, 4, BAD], // SIGNING_KEY 4 or 5
        [0x48, 5, RES], // SIGNER_INFO bit 5
        [0x3f, 7, SIG], // CURRENT_TCB microcode
        [0x187, 7, SIG], // REPORTED_TCB microcode
        [0x2cf, 7, SIG], // R most significant byte
        [0x317, 7, SIG], // S most significant byte
        [0x2e7, 7, RES], // R upper zero bytes
        [0x32f, 7, RES], // S upper zero bytes
        [0x49f, 7, RES], // end of the signature area
      ];
      for (const [at, bit, want] of cases) {
        expect([at, bit, codeOf(() => verifySnpReport(flip(s.raw, at, bit), s.opts))]).toEqual([
          at,
          bit,
          want,
        ]);
      }
    });

    it(`${s.id}: truncation at every field boundary → SNP_REPORT_TRUNCATED; trailing byte → SNP_BAD_FIELD`, () => {
      const boundaries = [
        0x000, 0x004, 0x008, 0x010, 0x020, 0x030, 0x034, 0x038, 0x040, 0x048, 0x04c, 0x050, 0x090, 0x0c0,
        0x0e0, 0x110, 0x140, 0x160, 0x180, 0x188, 0x189, 0x18a, 0x18b, 0x1a0, 0x1e0, 0x1e8, 0x1e9, 0x1ea,
        0x1eb, 0x1ec, 0x1ed, 0x1ee, 0x1ef, 0x1f0, 0x1f8, 0x200, 0x208, 0x2a0, 0x2e8, 0x330, 0x49f,
      ];
      for (const n of boundaries) {
        expect([n, codeOf(() => verifySnpReport(s.raw.subarray(0, n), s.opts))]).toEqual([
          n,
          'SNP_REPORT_TRUNCATED',
        ]);
      }
      const longer = new Uint8Array(s.raw.length + 1);
      longer.set(s.raw);
      expect(codeOf(() => verifySnpReport(longer, s.opts))).toBe(BAD);
    });
  }

  it('swapped VCEK (another chip of the same product) → SNP_SIGNATURE_INVALID', () => {
    const a = all.find((s) => s.id === 'milan-v2-virtee')!;
    const b = all.find((s) => s.id === 'milan-v2-azure')!;
    expect(codeOf(() => verifySnpReport(a.raw, { ...a.opts, vcek: b.opts.vcek! }))).toBe(SIG);
    const c = all.find((s) => s.id === 'milan-v5-gcp')!;
    expect(codeOf(() => verifySnpReport(c.raw, { ...c.opts, vcek: a.opts.vcek! }))).toBe(SIG);
  });

  it('swapped VCEK of another product → CERT_CHAIN_INVALID with the report product chain, SNP_SIGNATURE_INVALID with its own', () => {
    const milan = all.find((s) => s.id === 'milan-v3-azure')!;
    const genoa = all.find((s) => s.id === 'genoa-v3-azure')!;
    const turin = all.find((s) => s.id === 'turin-v5-anolis')!;
    expect(codeOf(() => verifySnpReport(milan.raw, { ...milan.opts, vcek: genoa.opts.vcek! }))).toBe(
      'CERT_CHAIN_INVALID',
    );
    expect(
      codeOf(() =>
        verifySnpReport(milan.raw, { ...milan.opts, vcek: genoa.opts.vcek!, chain: genoa.opts.chain! }),
      ),
    ).toBe(SIG);
    expect(
      codeOf(() =>
        verifySnpReport(turin.raw, { ...turin.opts, vcek: milan.opts.vcek!, chain: milan.opts.chain! }),
      ),
    ).toBe(SIG);
  });

  it('swapped ASK or ARK of another product → CERT_CHAIN_INVALID; wrong pin → ROOT_NOT_TRUSTED', () => {
    const pem = (p: string, n: string) => readVectorText(`sev-snp/roots/${p}/${n}.pem`);
    for (const s of all.filter((x) => !x.vlek)) {
      const product = s.turin ? 'turin' : s.id.startsWith('genoa') ? 'genoa' : 'milan';
      const other = product === 'milan' ? 'genoa' : 'milan';
      const opts = { ...s.opts, cache: new VerifyCache() };
      expect(
        codeOf(() => verifySnpReport(s.raw, { ...opts, chain: pem(other, 'ask') + pem(product, 'ark') })),
      ).toBe('CERT_CHAIN_INVALID');
      expect(
        codeOf(() => verifySnpReport(s.raw, { ...opts, chain: pem(product, 'ask') + pem(other, 'ark') })),
      ).toBe('CERT_CHAIN_INVALID');
      expect(
        codeOf(() => verifySnpReport(s.raw, { ...opts, chain: pem(product, 'ark') + pem(product, 'ask') })),
      ).toBe('CERT_CHAIN_INVALID');
      expect(
        codeOf(() => verifySnpReport(s.raw, { ...opts, chain: pem(product, 'asvk') + pem(product, 'ark') })),
      ).toBe('CERT_CHAIN_INVALID');
      const P = (product.charAt(0).toUpperCase() + product.slice(1)) as 'Milan' | 'Genoa' | 'Turin';
      const O = (other.charAt(0).toUpperCase() + other.slice(1)) as 'Milan' | 'Genoa';
      const roots = {
        ...DEFAULT_TRUST_ROOTS,
        amd: { ...DEFAULT_TRUST_ROOTS.amd, [P]: DEFAULT_TRUST_ROOTS.amd[O] },
      };
      expect(codeOf(() => verifySnpReport(s.raw, { ...opts, roots }))).toBe('ROOT_NOT_TRUSTED');
    }
  });
});

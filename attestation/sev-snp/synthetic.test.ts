import 'reflect-metadata';
import { createPrivateKey, type KeyObject, sign, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { codeOf } from '../../test/error-code.js';
import { VerifyCache } from '../cache.js';
import type { SnpTcb } from '../evidence.js';
import { DEFAULT_TRUST_ROOTS, type TrustRoots } from '../roots.js';
import { spkiSha256 } from '../x509.js';
import { AMD_OIDS } from './certs.js';
import { encodeTcb, type SnpProduct, tcbLayoutOf } from './tcb.js';
import { type SnpVerifyOptions, verifySnpReport } from './verify.js';

/*
 * A test-only AMD-shaped PKI (ECDSA P-384 ARK/ASK/VCEK generated here, pinned through `roots`) to
 * reach paths no real vector exercises: a VCEK-signed report with a masked CHIP_ID, TCB and product
 * mismatches on genuinely signed reports, ARK-signed CRLs (AMD publishes none in our vectors), and
 * high-S signatures.
 */

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const ALG = { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' } as const;
const NB = new Date('2024-01-01T00:00:00Z');
const NA = new Date('2030-01-01T00:00:00Z');
const NOW = new Date('2025-06-01T00:00:00Z');
const P384_N = BigInt(
  '0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973',
);

const derInt = (v: number) => {
  const bytes = v < 0x80 ? [v] : v < 0x8000 ? [v >> 8, v & 0xff] : [0, v >> 8, v & 0xff];
  return Uint8Array.from([0x02, bytes.length, ...bytes]);
};
const ia5 = (s: string) => Uint8Array.from([0x16, s.length, ...Buffer.from(s, 'latin1')]);
const ext = (oid: string, value: Uint8Array) => new x509.Extension(oid, false, value);

interface Pki {
  readonly product: SnpProduct;
  readonly arkKeys: webcrypto.CryptoKeyPair;
  readonly ark: x509.X509Certificate;
  readonly ask: x509.X509Certificate;
  readonly vcek: x509.X509Certificate;
  readonly vcekPriv: KeyObject;
  readonly roots: TrustRoots;
  readonly chain: string;
}

async function makePki(product: SnpProduct, tcb: SnpTcb, hwId: Uint8Array): Promise<Pki> {
  const gen = () =>
    webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
  const [arkKeys, askKeys, vcekKeys] = await Promise.all([gen(), gen(), gen()]);
  const ca = [new x509.BasicConstraintsExtension(true, undefined, true)];
  const arkName = `CN=ARK-${product}, O=Advanced Micro Devices`;
  const askName = `CN=SEV-${product}, O=Advanced Micro Devices`;
  const ark = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '010000',
    name: arkName,
    notBefore: NB,
    notAfter: NA,
    signingAlgorithm: ALG,
    keys: arkKeys,
    extensions: ca,
  });
  const ask = await x509.X509CertificateGenerator.create({
    serialNumber: '010001',
    subject: askName,
    issuer: arkName,
    notBefore: NB,
    notAfter: NA,
    signingAlgorithm: ALG,
    publicKey: askKeys.publicKey,
    signingKey: arkKeys.privateKey,
    extensions: ca,
  });
  const exts = [
    ext(AMD_OIDS.structVersion, derInt(product === 'Turin' ? 1 : 0)),
    ext(AMD_OIDS.productName, ia5(product === 'Milan' ? 'Milan-B0' : product)),
    ext(AMD_OIDS.blSPL, derInt(tcb.bootloader)),
    ext(AMD_OIDS.teeSPL, derInt(tcb.tee)),
    ext(AMD_OIDS.snpSPL, derInt(tcb.snp)),
    ext(AMD_OIDS.spl5, derInt(0)),
    ext(AMD_OIDS.ucodeSPL, derInt(tcb.microcode)),
    ...(tcb.fmc !== undefined ? [ext(AMD_OIDS.fmcSPL, derInt(tcb.fmc))] : []),
    ext(AMD_OIDS.hwID, hwId),
  ];
  const vcek = await x509.X509CertificateGenerator.create({
    serialNumber: '0a0b0c',
    subject: 'CN=SEV-VCEK, O=Advanced Micro Devices',
    issuer: askName,
    notBefore: NB,
    notAfter: NA,
    signingAlgorithm: ALG,
    publicKey: vcekKeys.publicKey,
    signingKey: askKeys.privateKey,
    extensions: exts,
  });
  const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', vcekKeys.privateKey));
  const vcekPriv = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  const pin = spkiSha256(new X509Certificate(Buffer.from(ark.rawData)));
  const roots: TrustRoots = { ...DEFAULT_TRUST_ROOTS, amd: { ...DEFAULT_TRUST_ROOTS.amd, [product]: [pin] } };
  return {
    product,
    arkKeys,
    ark,
    ask,
    vcek,
    vcekPriv,
    roots,
    chain: ask.toString('pem') + '\n' + ark.toString('pem'),
  };
}

interface ReportSpec {
  readonly version?: number;
  readonly cpuid?: readonly [number, number, number];
  readonly tcb: SnpTcb;
  readonly reportedTcb?: SnpTcb;
  readonly chipId: Uint8Array;
  readonly policy?: bigint;
  readonly highS?: boolean;
}

/** Builds and signs an ATTESTATION_REPORT (#56860 table 23) with the test VCEK. */
function makeReport(pki: Pki, spec: ReportSpec): Uint8Array {
  const b = new Uint8Array(0x4a0);
  const dv = new DataView(b.buffer);
  const version = spec.version ?? 3;
  const layout = tcbLayoutOf(pki.product);
  dv.setUint32(0x00, version, true);
  dv.setBigUint64(0x08, spec.policy ?? 0x30000n, true);
  dv.setUint32(0x34, 1, true);
  const reported = encodeTcb(spec.reportedTcb ?? spec.tcb, layout);
  for (const o of [0x38, 0x1e0, 0x1f0]) b.set(encodeTcb(spec.tcb, layout), o);
  b.set(reported, 0x180);
  b.fill(0x11, 0x50, 0x90); // REPORT_DATA
  b.fill(0x22, 0x90, 0xc0); // MEASUREMENT
  if (version >= 3) b.set(spec.cpuid ?? [0x19, 0x01, 0x01], 0x188);
  b.set(spec.chipId, 0x1a0);
  const sig = sign('sha384', b.subarray(0, 0x2a0), { key: pki.vcekPriv, dsaEncoding: 'ieee-p1363' });
  const r = sig.subarray(0, 48);
  let s = new Uint8Array(sig.subarray(48));
  const sv = BigInt(`0x${Buffer.from(s).toString('hex')}`);
  const high = sv > P384_N / 2n;
  if (spec.highS !== undefined && spec.highS !== high) {
    s = Uint8Array.from(Buffer.from((P384_N - sv).toString(16).padStart(96, '0'), 'hex'));
  }
  b.set(Uint8Array.from(r).reverse(), 0x2a0);
  b.set(Uint8Array.from(s).reverse(), 0x2e8);
  return b;
}

const MILAN_TCB: SnpTcb = { bootloader: 4, tee: 0, snp: 24, microcode: 219 };
const TURIN_TCB: SnpTcb = { fmc: 1, bootloader: 3, tee: 2, snp: 5, microcode: 97 };
const HW64 = Uint8Array.from({ length: 64 }, (_, i) => i + 1);
const HW8 = Uint8Array.from([9, 8, 7, 6, 5, 4, 3, 2]);

describe('synthetic AMD PKI: paths the real vectors cannot reach', () => {
  let milan: Pki;
  let turin: Pki;
  let opts: (p: Pki) => SnpVerifyOptions;
  beforeAll(async () => {
    [milan, turin] = await Promise.all([makePki('Milan', MILAN_TCB, HW64), makePki('Turin', TURIN_TCB, HW8)]);
    opts = (p) => ({ now: NOW, vcek: new Uint8Array(p.vcek.rawData), chain: p.chain, roots: p.roots });
  });

  it('a well-formed report signed by the test VCEK verifies (low-S and high-S)', () => {
    for (const highS of [false, true]) {
      const v = verifySnpReport(makeReport(milan, { tcb: MILAN_TCB, chipId: HW64, highS }), opts(milan));
      expect(v.product).toBe('Milan');
      expect(v.reportedTcb).toEqual(MILAN_TCB);
    }
    // v2 (no CPUID): the product comes from the VCEK.
    expect(
      verifySnpReport(makeReport(milan, { version: 2, tcb: MILAN_TCB, chipId: HW64 }), opts(milan)).product,
    ).toBe('Milan');
  });

  it('CHIP_ID: masked (zero) or different → SNP_CHIP_ID_MISMATCH', () => {
    const zero = new Uint8Array(64);
    expect(
      codeOf(() => verifySnpReport(makeReport(milan, { tcb: MILAN_TCB, chipId: zero }), opts(milan))),
    ).toBe('SNP_CHIP_ID_MISMATCH');
    const other = HW64.slice();
    other[63] = 0;
    expect(
      codeOf(() => verifySnpReport(makeReport(milan, { tcb: MILAN_TCB, chipId: other }), opts(milan))),
    ).toBe('SNP_CHIP_ID_MISMATCH');
  });

  it('REPORTED_TCB ≠ VCEK SPLs → SNP_VCEK_TCB_MISMATCH; CURRENT_TCB may differ', () => {
    for (const k of ['bootloader', 'tee', 'snp', 'microcode'] as const) {
      const reportedTcb = { ...MILAN_TCB, [k]: MILAN_TCB[k] + 1 };
      expect(
        codeOf(() =>
          verifySnpReport(makeReport(milan, { tcb: MILAN_TCB, reportedTcb, chipId: HW64 }), opts(milan)),
        ),
      ).toBe('SNP_VCEK_TCB_MISMATCH');
    }
    const newer = { ...MILAN_TCB, microcode: 220 };
    expect(
      codeOf(() =>
        verifySnpReport(makeReport(milan, { tcb: newer, reportedTcb: MILAN_TCB, chipId: HW64 }), opts(milan)),
      ),
    ).toBe('ok');
  });

  it('CPUID naming another product than the VCEK → SNP_SIGNING_KEY_MISMATCH', () => {
    const r = makeReport(milan, { tcb: MILAN_TCB, chipId: HW64, cpuid: [0x19, 0x11, 0x01] });
    expect(codeOf(() => verifySnpReport(r, opts(milan)))).toBe('SNP_SIGNING_KEY_MISMATCH');
  });

  it('Turin: TCB with the Turin layout, hwID = the first 8 bytes of CHIP_ID', () => {
    const chip = new Uint8Array(64);
    chip.set(HW8);
    const r = makeReport(turin, { tcb: TURIN_TCB, chipId: chip, cpuid: [0x1a, 0x02, 0x01], version: 5 });
    const v = verifySnpReport(r, opts(turin));
    expect(v.product).toBe('Turin');
    expect(v.reportedTcb).toEqual(TURIN_TCB);
    const other = chip.slice();
    other[7] = 0xff;
    expect(
      codeOf(() =>
        verifySnpReport(
          makeReport(turin, { tcb: TURIN_TCB, chipId: other, cpuid: [0x1a, 0x02, 0x01] }),
          opts(turin),
        ),
      ),
    ).toBe('SNP_CHIP_ID_MISMATCH');
    const fmc = { ...TURIN_TCB, fmc: 2 };
    expect(
      codeOf(() =>
        verifySnpReport(
          makeReport(turin, { tcb: TURIN_TCB, reportedTcb: fmc, chipId: chip, cpuid: [0x1a, 0x02, 0x01] }),
          opts(turin),
        ),
      ),
    ).toBe('SNP_VCEK_TCB_MISMATCH');
    // A Turin VCEK cannot sign a v2 report (v2 predates Turin). With Turin's TEE/SNP bytes in Milan's
    // reserved bytes the parser stops first; with a TCB valid in both layouts the product check does.
    expect(
      codeOf(() =>
        verifySnpReport(makeReport(turin, { version: 2, tcb: TURIN_TCB, chipId: chip }), opts(turin)),
      ),
    ).toBe('SNP_RESERVED_NONZERO');
    const both: SnpTcb = { fmc: 0, bootloader: 0, tee: 0, snp: 0, microcode: 97 };
    expect(
      codeOf(() => verifySnpReport(makeReport(turin, { version: 2, tcb: both, chipId: chip }), opts(turin))),
    ).toBe('SNP_SIGNING_KEY_MISMATCH');
  });

  it('ARK-signed CRL: fresh → ok with collateralIssuedAt; revoked ASK or VCEK → CERT_REVOKED; stale → COLLATERAL_EXPIRED; other signer → CRL_INVALID', async () => {
    const report = makeReport(milan, { tcb: MILAN_TCB, chipId: HW64 });
    const crl = async (serials: string[], signer: webcrypto.CryptoKey, nextUpdate = NA) =>
      new Uint8Array(
        (
          await x509.X509CrlGenerator.create({
            issuer: milan.ark.subject,
            thisUpdate: new Date('2025-05-01T00:00:00Z'),
            nextUpdate,
            entries: serials.map((serialNumber) => ({ serialNumber, revocationDate: NB })),
            signingAlgorithm: ALG,
            signingKey: signer,
          })
        ).rawData,
      );
    const cache = new VerifyCache();
    const fresh = await crl(['0badbeef'], milan.arkKeys.privateKey);
    for (const c of [undefined, cache, cache]) {
      const v = verifySnpReport(report, { ...opts(milan), crl: fresh, ...(c && { cache: c }) });
      expect(v.collateralIssuedAt?.toISOString()).toBe('2025-05-01T00:00:00.000Z');
    }
    // Time is judged again on a warm cache.
    expect(
      codeOf(() =>
        verifySnpReport(report, { ...opts(milan), crl: fresh, cache, now: new Date('2031-01-01T00:00:00Z') }),
      ),
    ).toBe('COLLATERAL_EXPIRED');
    const revokedAsk = await crl(['010001'], milan.arkKeys.privateKey);
    expect(codeOf(() => verifySnpReport(report, { ...opts(milan), crl: revokedAsk }))).toBe('CERT_REVOKED');
    const revokedVcek = await crl([milan.vcek.serialNumber], milan.arkKeys.privateKey);
    expect(codeOf(() => verifySnpReport(report, { ...opts(milan), crl: revokedVcek }))).toBe('CERT_REVOKED');
    const stale = await crl([], milan.arkKeys.privateKey, new Date('2025-05-15T00:00:00Z'));
    expect(codeOf(() => verifySnpReport(report, { ...opts(milan), crl: stale }))).toBe('COLLATERAL_EXPIRED');
    const forged = await crl([], turin.arkKeys.privateKey);
    expect(codeOf(() => verifySnpReport(report, { ...opts(milan), crl: forged }))).toBe('CRL_INVALID');
  });

  it('the production pins do not accept the test ARK', () => {
    const r = makeReport(milan, { tcb: MILAN_TCB, chipId: HW64 });
    expect(codeOf(() => verifySnpReport(r, { ...opts(milan), roots: DEFAULT_TRUST_ROOTS }))).toBe(
      'ROOT_NOT_TRUSTED',
    );
  });
});

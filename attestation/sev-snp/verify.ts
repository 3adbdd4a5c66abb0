import { createHash, verify as cryptoVerify, type KeyObject, type X509Certificate } from 'node:crypto';
import { bytesEqual, concatBytes, isAllZero, toHex } from '../bytes.js';
import type { VerifyCache } from '../cache.js';
import { fail } from '../errors.js';
import type { SnpTcb, VerifiedSnp } from '../evidence.js';
import { DEFAULT_TRUST_ROOTS, type TrustRoots } from '../roots.js';
import {
  type Certificate,
  certValidity,
  checkWindow,
  commonName,
  isRevoked,
  type ParsedCrl,
  parseCrl,
  verifyChain,
  verifyCrl,
} from '../x509.js';
import {
  type AmdKeyExtensions,
  type AmdKeyKind,
  checkRole,
  expectedCn,
  KEY_CERT_CN,
  parseAmdChain,
  parseAmdKeyExtensions,
  parseKeyCert,
  productOfKeyCert,
} from './certs.js';
import { parseSnpReport, type SnpReport, snpPolicyDebug, snpSignedBytes } from './report.js';
import { SNP_PRODUCTS, type SnpProduct } from './tcb.js';

/*
 * Verify stage for SEV-SNP (genuineness, not policy): the signing key named by SIGNER_INFO, its chain
 * to the ARK pinned for its product, optional ARK-signed CRL, the report signature, and the VCEK/VLEK
 * TCB and hardware ID against the report. Order: key selection → chain (+ CRL) → signature → product,
 * TCB and CHIP_ID matching, so a report whose signed bytes were altered always ends in
 * SNP_SIGNATURE_INVALID and the matching errors only speak about genuinely signed reports.
 */

export interface SnpVerifyOptions {
  /** The verification time (certificate and CRL windows are judged at it). */
  readonly now: Date;
  /** DER VCEK, when SIGNER_INFO.SIGNING_KEY = 0. */
  readonly vcek?: Uint8Array;
  /** DER VLEK, when SIGNER_INFO.SIGNING_KEY = 1. */
  readonly vlek?: Uint8Array;
  /** ASK (or ASVK) then ARK: parsed certificates or a PEM bundle in AMD KDS `cert_chain` order. */
  readonly chain?: readonly X509Certificate[] | string;
  /** DER CRL issued by the ARK (AMD KDS `/vcek/v1/{product}/crl`). */
  readonly crl?: Uint8Array;
  /** ARK pins per product; the production pins by default. */
  readonly roots?: TrustRoots;
  /** Memo of the time-independent checks (chain signatures, CRL signature); windows are re-evaluated. */
  readonly cache?: VerifyCache;
}

interface Window {
  readonly what: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** What a verified chain leaves for later calls (keyed by the SHA-256 of every certificate and the pins). */
interface ChainResult {
  readonly product: SnpProduct;
  readonly ext: AmdKeyExtensions;
  readonly key: KeyObject;
  readonly keyCert: Certificate;
  readonly ask: Certificate;
  readonly ark: Certificate;
  readonly windows: readonly Window[];
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

function selectKey(report: SnpReport, opts: SnpVerifyOptions): { kind: AmdKeyKind; der: Uint8Array } {
  const kind = report.signerInfo.signingKey;
  if (kind === 'none') {
    fail('SNP_SIGNING_KEY_MISMATCH', 'SEV-SNP report is unsigned (SIGNER_INFO.SIGNING_KEY = 7)', {
      signingKey: 7,
    });
  }
  const der = kind === 'vcek' ? opts.vcek : opts.vlek;
  if (!der) {
    const other = kind === 'vcek' ? opts.vlek : opts.vcek;
    if (other) {
      fail(
        'SNP_SIGNING_KEY_MISMATCH',
        `SEV-SNP report is signed by its ${kind.toUpperCase()} but only a ${kind === 'vcek' ? 'VLEK' : 'VCEK'} was given`,
        {
          signingKey: kind,
        },
      );
    }
    fail('COLLATERAL_MISSING', `SEV-SNP report is signed by its ${kind.toUpperCase()}, which was not given`, {
      signingKey: kind,
    });
  }
  return { kind, der };
}

function chainWindows(chain: readonly Certificate[], what: string): Window[] {
  // Same item names as verifyChain, so cold and warm calls fail alike.
  return chain.map((c, i) => ({ what: `${what} certificate ${i} (${commonName(c)})`, ...certValidity(c) }));
}

export interface AmdKeyChainOptions {
  readonly now: Date;
  readonly roots?: TrustRoots;
  readonly cache?: VerifyCache;
}

/** A VCEK/VLEK whose chain to the pinned ARK of its product verified. */
export interface VerifiedAmdKey {
  readonly product: SnpProduct;
  readonly extensions: AmdKeyExtensions;
  readonly key: KeyObject;
}

/**
 * Verifies a VCEK (→ ASK → ARK) or VLEK (→ ASVK → ARK) chain at `now` against the ARK pinned for the
 * key's product, and returns the key's product and AMD extensions. No report is involved.
 */
export function verifyAmdKeyChain(
  kind: AmdKeyKind,
  keyDer: Uint8Array,
  chain: readonly X509Certificate[] | string,
  opts: AmdKeyChainOptions,
): VerifiedAmdKey {
  const c = loadChain(kind, keyDer, chain, opts.now, opts.roots ?? DEFAULT_TRUST_ROOTS, opts.cache);
  // A copy: the cached extensions must not be reachable for mutation.
  const extensions = { ...c.ext, ...(c.ext.hwID && { hwID: c.ext.hwID.slice() }) };
  return { product: c.product, extensions, key: c.key };
}

function loadChain(
  kind: AmdKeyKind,
  keyDer: Uint8Array,
  chainIn: readonly X509Certificate[] | string | undefined,
  now: Date,
  roots: TrustRoots,
  cache: VerifyCache | undefined,
): ChainResult {
  const label = kind.toUpperCase();
  if (!chainIn) {
    fail(
      'COLLATERAL_MISSING',
      `the AMD certificate chain (${kind === 'vcek' ? 'ASK' : 'ASVK'}, ARK) was not given`,
      {
        what: 'chain',
      },
    );
  }
  let chain: readonly Certificate[];
  if (typeof chainIn === 'string') {
    const pemKey = `snp-pem:${sha256(chainIn)}`;
    const hit = cache?.get<readonly Certificate[]>(pemKey);
    chain = hit ?? parseAmdChain(chainIn, 'AMD cert_chain');
    if (!hit) cache?.set(pemKey, chain);
  } else {
    chain = parseAmdChain(chainIn, 'AMD cert_chain');
  }
  const [ask, ark] = chain as [Certificate, Certificate];
  const key = [
    'snp-chain',
    kind,
    sha256(keyDer),
    sha256(new Uint8Array(ask.raw)),
    sha256(new Uint8Array(ark.raw)),
    ...SNP_PRODUCTS.map((p) => roots.amd[p].map(toHex).join(',')),
  ].join(':');
  const hit = cache?.get<ChainResult>(key);
  if (hit) {
    for (const w of hit.windows) checkWindow(w.what, w.notBefore, w.notAfter, now);
    return hit;
  }

  const keyCert = parseKeyCert(keyDer, label);
  const subject = commonName(keyCert);
  if (subject !== KEY_CERT_CN[kind]) {
    if (subject === KEY_CERT_CN[kind === 'vcek' ? 'vlek' : 'vcek']) {
      fail(
        'SNP_SIGNING_KEY_MISMATCH',
        `the report names its ${label} as signer but the certificate given is a ${subject}`,
        {
          signingKey: kind,
          subject,
        },
      );
    }
    fail('CERT_MALFORMED', `${label}: subject CN is "${subject}", not "${KEY_CERT_CN[kind]}"`, {
      what: label,
    });
  }
  const pub = keyCert.publicKey;
  if (pub.asymmetricKeyType !== 'ec' || pub.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    fail('CERT_MALFORMED', `${label}: public key is not an ECDSA P-384 key`, { what: label });
  }
  const ext = parseAmdKeyExtensions(keyCert, label);
  const product = productOfKeyCert(keyCert, ext, kind, label);
  checkRole(ask, expectedCn(kind === 'vcek' ? 'ask' : 'asvk', product), `AMD cert_chain[0]`);
  checkRole(ark, expectedCn('ark', product), `AMD cert_chain[1]`);
  const full = [keyCert, ask, ark];
  const what = `${label} chain`;
  verifyChain(full, what, { now, pinnedRoots: roots.amd[product] });
  const result: ChainResult = {
    product,
    ext,
    key: pub,
    keyCert,
    ask,
    ark,
    windows: chainWindows(full, what),
  };
  cache?.set(key, result);
  return result;
}

/** Optional ARK-signed CRL: valid now, and neither the ASK/ASVK nor the VCEK/VLEK revoked. Returns thisUpdate. */
function checkCrl(der: Uint8Array, c: ChainResult, opts: SnpVerifyOptions): Date {
  const what = `AMD ${c.product} CRL`;
  const key = `snp-crl:${sha256(der)}:${sha256(new Uint8Array(c.ark.raw))}`;
  let crl = opts.cache?.get<ParsedCrl>(key);
  if (crl) {
    checkWindow(what, crl.thisUpdate, crl.nextUpdate, opts.now);
  } else {
    crl = parseCrl(der, what);
    verifyCrl(crl, c.ark, what, opts.now);
    opts.cache?.set(key, crl);
  }
  for (const cert of [c.ask, c.keyCert]) {
    if (isRevoked(crl, cert)) {
      fail('CERT_REVOKED', `${commonName(cert)} (serial ${cert.serialNumber}) is revoked by the ${what}`, {
        subject: commonName(cert),
        serial: cert.serialNumber,
      });
    }
  }
  return crl.thisUpdate;
}

/** ECDSA P-384 SHA-384 over [0, 0x2A0); R‖S big-endian (IEEE P1363). High-S signatures are valid (AMD emits them). */
function signatureValid(report: SnpReport, key: KeyObject): boolean {
  try {
    const sig = concatBytes(report.signature.r, report.signature.s);
    return cryptoVerify('sha384', snpSignedBytes(report), { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}

function tcbString(t: SnpTcb): string {
  return `${t.fmc !== undefined ? `fmc=${t.fmc} ` : ''}bl=${t.bootloader} tee=${t.tee} snp=${t.snp} ucode=${t.microcode}`;
}

/** The VCEK/VLEK is issued for one TCB: its SPL extensions must equal REPORTED_TCB (#57230, "VCEK"). */
function checkTcbMatch(report: SnpReport, c: ChainResult, kind: AmdKeyKind): void {
  const t = report.reportedTcb;
  const e = c.ext;
  const mismatch = (why: string): never =>
    fail(
      'SNP_VCEK_TCB_MISMATCH',
      `the ${kind.toUpperCase()} is for another TCB than REPORTED_TCB (${tcbString(t)}): ${why}`,
      {
        reportedTcb: t,
        certificate: {
          blSPL: e.blSPL,
          teeSPL: e.teeSPL,
          snpSPL: e.snpSPL,
          ucodeSPL: e.ucodeSPL,
          fmcSPL: e.fmcSPL,
        },
      },
    );
  if (e.blSPL !== t.bootloader) mismatch(`blSPL ${e.blSPL}`);
  if (e.teeSPL !== t.tee) mismatch(`teeSPL ${e.teeSPL}`);
  if (e.snpSPL !== t.snp) mismatch(`snpSPL ${e.snpSPL}`);
  if (e.ucodeSPL !== t.microcode) mismatch(`ucodeSPL ${e.ucodeSPL}`);
  if (c.product === 'Turin' && e.fmcSPL !== t.fmc) mismatch(`fmcSPL ${e.fmcSPL ?? 'absent'}`);
  for (const [k, v] of Object.entries(e.reservedSPLs)) {
    // The matching TCB_VERSION bytes are reserved and were checked zero by the parser.
    if (v !== 0) mismatch(`${k} ${v} (reserved SPL)`);
  }
}

/** VCEK hwID = CHIP_ID (64 bytes; Turin: the first 8 bytes). A masked (zero) CHIP_ID cannot match a VCEK. */
function checkChipId(report: SnpReport, c: ChainResult): void {
  const hw = c.ext.hwID;
  if (!hw)
    fail('CERT_MALFORMED', 'VCEK: AMD extension hwID (1.3.6.1.4.1.3704.1.4) is missing', { what: 'VCEK' });
  const want = c.product === 'Turin' ? 8 : 64;
  if (hw.length !== want)
    fail('CERT_MALFORMED', `VCEK: hwID is ${hw.length} bytes, a ${c.product} hwID is ${want}`, {
      what: 'VCEK',
    });
  const chip = report.chipId.subarray(0, want);
  if (isAllZero(report.chipId) || !bytesEqual(chip, hw)) {
    fail(
      'SNP_CHIP_ID_MISMATCH',
      `CHIP_ID ${isAllZero(report.chipId) ? 'is masked (zero)' : 'differs from the VCEK hwID'}`,
      {
        chipId: toHex(report.chipId),
        hwID: toHex(hw),
      },
    );
  }
}

/**
 * Verifies a parsed (or raw) SEV-SNP report. Returns the VerifiedSnp facts for the policy stage;
 * throws AttestationError otherwise. Debug guests are NOT refused here (`debug: true`): that is policy.
 */
export function verifySnpReport(input: SnpReport | Uint8Array, opts: SnpVerifyOptions): VerifiedSnp {
  if (!(opts.now instanceof Date) || Number.isNaN(opts.now.getTime()))
    fail('INVALID_ARGUMENT', 'opts.now must be a valid Date');
  // Always (re)parse the raw bytes: every value returned below then comes from the signed bytes, even
  // when the caller hands in an SnpReport object it built or modified itself.
  const report = parseSnpReport(input instanceof Uint8Array ? input : input.raw);
  const roots = opts.roots ?? DEFAULT_TRUST_ROOTS;
  const { kind, der } = selectKey(report, opts);
  const c = loadChain(kind, der, opts.chain, opts.now, roots, opts.cache);
  const crlIssuedAt = opts.crl ? checkCrl(opts.crl, c, opts) : undefined;

  if (!signatureValid(report, c.key)) {
    fail(
      'SNP_SIGNATURE_INVALID',
      `SEV-SNP report signature does not verify with the ${kind.toUpperCase()} key`,
      {
        signingKey: kind,
        product: c.product,
      },
    );
  }

  // Product: the CPUID fields (v3+) must name the key's product; v2 reports cannot come from Turin.
  const reportProduct = report.cpuidProduct;
  if (reportProduct !== undefined ? reportProduct !== c.product : c.product === 'Turin') {
    fail(
      'SNP_SIGNING_KEY_MISMATCH',
      `the report is from ${reportProduct ?? 'a pre-Turin (v2) part'} but its ${kind.toUpperCase()} is a ${c.product} key`,
      {
        reportProduct: reportProduct ?? null,
        keyProduct: c.product,
      },
    );
  }
  checkTcbMatch(report, c, kind);
  if (kind === 'vcek') checkChipId(report, c);

  return {
    tee: 'sev-snp',
    evidenceHash: new Uint8Array(createHash('sha256').update(report.raw).digest()),
    measurements: {
      measurement: report.measurement,
      hostData: report.hostData,
      idKeyDigest: report.idKeyDigest,
      authorKeyDigest: report.authorKeyDigest,
      familyId: report.familyId,
      imageId: report.imageId,
      reportId: report.reportId,
    },
    reportData: report.reportData,
    debug: snpPolicyDebug(report.policy),
    ...(crlIssuedAt && { collateralIssuedAt: crlIssuedAt }),
    reportVersion: report.version,
    product: c.product,
    signingKey: kind,
    vmpl: report.vmpl,
    guestPolicy: report.policy,
    guestSvn: report.guestSvn,
    reportedTcb: report.reportedTcb,
    committedTcb: report.committedTcb,
    currentTcb: report.currentTcb,
    chipId: report.chipId,
  };
}

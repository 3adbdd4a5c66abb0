import {
  createHash,
  constants as cryptoConstants,
  verify as cryptoVerify,
  X509Certificate,
} from 'node:crypto';
import { bytesEqual, toHex } from './bytes.js';
import { VerifyCache } from './cache.js';
import { DER, oidToString, readChildren, readWhole, type Tlv } from './der.js';
import { fail } from './errors.js';

/*
 * Certificates and CRLs for both vendors. Why these libraries: `node:crypto`'s X509Certificate
 * parses and verifies ECDSA P-256 (Intel) and RSA-PSS SHA-384 (AMD) certificates correctly and
 * synchronously; node-forge cannot parse EC-key certificates and digests RSA-PSS certificates with
 * SHA-256, so it is not used. node:crypto has no CRL support: CRLs (RFC 5280 §5.1) are read with our
 * DER reader, which needs only the few fields a revocation check uses, and their signatures are
 * checked with node:crypto. @peculiar/x509 parses the same CRLs in the tests as an independent check;
 * it is not used here because it costs ~2 ms per Intel PCK CRL, most of a cold quote verification.
 */

export type Certificate = X509Certificate;

/** Parses one certificate from DER bytes or PEM text. */
export function parseCertificate(input: Uint8Array | string, what: string): X509Certificate {
  try {
    return new X509Certificate(typeof input === 'string' ? input : Buffer.from(input));
  } catch (e) {
    return fail('CERT_MALFORMED', `${what}: not a parsable X.509 certificate`, { what }, e);
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Certificates parsed during one verification call, by their PEM block text. */
export type PemMemo = Map<string, X509Certificate>;

/**
 * Parses every certificate of a PEM bundle, in order. An empty bundle is malformed. With a `memo`
 * (scoped to one verification call), a PEM block already parsed in that call is not parsed again: the
 * Intel SGX Root CA, for one, travels in the PCK chain and in every collateral issuer chain.
 */
export function parsePemChain(pem: string, what: string, memo?: PemMemo): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) fail('CERT_MALFORMED', `${what}: no PEM certificate found`, { what });
  return blocks.map((b, i) => {
    const hit = memo?.get(b);
    if (hit) return hit;
    const cert = parseCertificate(b, `${what}[${i}]`);
    memo?.set(b, cert);
    return cert;
  });
}

/*
 * Memos of pure functions of a certificate's bytes, shared by all calls in the process and keyed by
 * the SHA-256 of the exact DER: the SHA-256 of its SubjectPublicKeyInfo (exporting a key through
 * OpenSSL costs ~0.12 ms) and "this self-signed certificate verifies under its own key" (a signature
 * check). They hold no verification decision about the evidence or collateral: validity windows,
 * the pin comparison, chain links and revocation are judged on every call. Only successes are
 * remembered; the memo is bounded.
 */
const certMemo = new VerifyCache(512);
const derHashes = new WeakMap<X509Certificate, string>();

function derKey(cert: X509Certificate): string {
  let k = derHashes.get(cert);
  if (k === undefined) {
    k = createHash('sha256').update(cert.raw).digest('hex');
    derHashes.set(cert, k);
  }
  return k;
}

/** SHA-256 of the certificate's SubjectPublicKeyInfo (DER): what root pins compare. */
export function spkiSha256(cert: X509Certificate): Uint8Array {
  const key = `spki-sha256:${derKey(cert)}`;
  const hit = certMemo.get<Uint8Array>(key);
  if (hit) return hit.slice();
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  const fp = new Uint8Array(createHash('sha256').update(spki).digest());
  certMemo.set(key, fp.slice());
  return fp;
}

export function certValidity(cert: X509Certificate): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
}

/** Fails with COLLATERAL_NOT_YET_VALID / COLLATERAL_EXPIRED when `now` is outside [from, to]. */
export function checkWindow(what: string, from: Date, to: Date, now: Date): void {
  // An invalid Date compares false with everything: it would pass every window.
  if (!(now instanceof Date) || Number.isNaN(now.getTime()))
    fail('INVALID_ARGUMENT', '`now` is not a valid time');
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
    fail('COLLATERAL_MALFORMED', `${what}: unreadable validity dates`, { what });
  }
  if (now < from) {
    fail(
      'COLLATERAL_NOT_YET_VALID',
      `${what} is not valid before ${from.toISOString()} (now ${now.toISOString()})`,
      {
        item: what,
        notBefore: from.toISOString(),
        now: now.toISOString(),
      },
    );
  }
  if (now > to) {
    fail('COLLATERAL_EXPIRED', `${what} expired at ${to.toISOString()} (now ${now.toISOString()})`, {
      item: what,
      notAfter: to.toISOString(),
      now: now.toISOString(),
    });
  }
}

export interface ChainOptions {
  readonly now: Date;
  /** SHA-256 fingerprints of the SubjectPublicKeyInfo of the accepted roots. */
  readonly pinnedRoots: readonly Uint8Array[];
}

/**
 * Verifies a chain given leaf first and ending in a self-signed root: every certificate is within
 * its validity at `now`, each is signed by the next, the next is a CA whose subject is the issuer,
 * and the root's key matches a pin. Revocation is the caller's (CRLs differ per vendor).
 */
export function verifyChain(chain: readonly X509Certificate[], what: string, opts: ChainOptions): void {
  if (chain.length === 0) fail('CERT_CHAIN_INVALID', `${what}: empty certificate chain`, { what });
  chain.forEach((c, i) => {
    const { notBefore, notAfter } = certValidity(c);
    checkWindow(`${what} certificate ${i} (${commonName(c)})`, notBefore, notAfter, opts.now);
  });
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i]!;
    const parent = chain[i + 1]!;
    if (!parent.ca)
      fail('CERT_CHAIN_INVALID', `${what}: ${commonName(parent)} is not a CA certificate`, { what });
    if (!child.checkIssued(parent)) {
      fail('CERT_CHAIN_INVALID', `${what}: ${commonName(child)} was not issued by ${commonName(parent)}`, {
        what,
      });
    }
    if (!safeVerify(child, parent)) {
      fail(
        'CERT_CHAIN_INVALID',
        `${what}: signature of ${commonName(child)} does not verify with ${commonName(parent)}'s key`,
        {
          what,
          index: i,
        },
      );
    }
  }
  const root = chain[chain.length - 1]!;
  if (!root.checkIssued(root) || !selfSignatureValid(root)) {
    fail(
      'CERT_CHAIN_INVALID',
      `${what}: the last certificate (${commonName(root)}) is not a self-signed root`,
      { what },
    );
  }
  const fp = spkiSha256(root);
  if (!opts.pinnedRoots.some((p) => bytesEqual(p, fp))) {
    fail('ROOT_NOT_TRUSTED', `${what}: root ${commonName(root)} is not a pinned root of trust`, {
      what,
      spkiSha256: toHex(fp),
    });
  }
}

/**
 * Successful signature checks, per pair of certificate objects (X509Certificate is immutable): within
 * one call, a link shared by two chains (the PCK CA under the root, in the PCK chain and in the PCK CRL
 * issuer chain) is checked once. Certificates parsed from PEM/DER in a call are new objects, so
 * nothing carries over to the next call unless the caller hands in the same objects again.
 */
const verifiedLinks = new WeakMap<X509Certificate, WeakSet<X509Certificate>>();

function safeVerify(child: X509Certificate, parent: X509Certificate): boolean {
  if (verifiedLinks.get(child)?.has(parent)) return true;
  let ok: boolean;
  try {
    ok = child.verify(parent.publicKey);
  } catch {
    ok = false;
  }
  if (ok) {
    const parents = verifiedLinks.get(child) ?? new WeakSet<X509Certificate>();
    parents.add(parent);
    verifiedLinks.set(child, parents);
  }
  return ok;
}

/** A self-signed certificate's signature under its own key; memoised by its DER (see certMemo). */
function selfSignatureValid(cert: X509Certificate): boolean {
  const key = `self-signed:${derKey(cert)}`;
  if (certMemo.get<boolean>(key) === true) return true;
  const ok = safeVerify(cert, cert);
  if (ok) certMemo.set(key, true);
  return ok;
}

export function commonName(cert: X509Certificate): string {
  const m = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject);
  return m?.[1] ?? cert.subject.replace(/\n/g, ', ');
}

/** DER of the subject Name of a certificate (RFC 5280 §4.1: tbsCertificate field 6, or 5 without version). */
export function subjectNameDer(cert: X509Certificate): Uint8Array {
  const tbs = tbsFields(new Uint8Array(cert.raw), 'CERT_MALFORMED', 'certificate');
  const hasVersion = tbs[0]?.tag === 0xa0;
  const subject = tbs[hasVersion ? 5 : 4];
  if (!subject || subject.tag !== DER.SEQUENCE) fail('CERT_MALFORMED', 'certificate: no subject name');
  return subject.raw;
}

function tbsFields(der: Uint8Array, code: 'CERT_MALFORMED' | 'CRL_MALFORMED', what: string) {
  const outer = readWhole(der, DER.SEQUENCE, code, what);
  const [tbs] = readChildren(outer.content, code, what);
  if (!tbs || tbs.tag !== DER.SEQUENCE) return fail(code, `${what}: no to-be-signed sequence`);
  return readChildren(tbs.content, code, what);
}

export interface ParsedCrl {
  readonly der: Uint8Array;
  readonly tbs: Uint8Array;
  readonly issuerNameDer: Uint8Array;
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** Revoked serial numbers, upper-case hex without leading zeros. */
  readonly revokedSerials: ReadonlySet<string>;
}

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_ECDSA_SHA384 = '1.2.840.10045.4.3.3';
const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';

/**
 * Parses a DER CRL (RFC 5280 §5.1):
 *   CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
 *   TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL, signature AlgorithmIdentifier, issuer Name,
 *     thisUpdate Time, nextUpdate Time OPTIONAL,
 *     revokedCertificates SEQUENCE OF SEQUENCE { userCertificate INTEGER, revocationDate Time, … } OPTIONAL,
 *     crlExtensions [0] EXPLICIT Extensions OPTIONAL }
 * A CRL without nextUpdate is refused: its freshness could not be judged.
 */
export function parseCrl(der: Uint8Array, what: string): ParsedCrl {
  const C = 'CRL_MALFORMED';
  const outer = readWhole(der, DER.SEQUENCE, C, what);
  const [tbs, alg, sig, extra] = readChildren(outer.content, C, what);
  if (
    !tbs ||
    !alg ||
    !sig ||
    extra ||
    tbs.tag !== DER.SEQUENCE ||
    alg.tag !== DER.SEQUENCE ||
    sig.tag !== DER.BIT_STRING
  ) {
    fail(C, `${what}: not a CertificateList`);
  }
  const fields = readChildren(tbs.content, C, what);
  let i = fields[0]?.tag === DER.INTEGER ? 1 : 0;
  const next = () => fields[i++];
  const innerAlg = next();
  const issuer = next();
  if (innerAlg?.tag !== DER.SEQUENCE || issuer?.tag !== DER.SEQUENCE)
    fail(C, `${what}: no signature algorithm or issuer name`);
  const thisUpdate = derTime(next(), C, `${what} thisUpdate`);
  const maybeNext = fields[i];
  if (!maybeNext || (maybeNext.tag !== UTC_TIME && maybeNext.tag !== GENERALIZED_TIME))
    fail(C, `${what}: CRL has no nextUpdate`);
  const nextUpdate = derTime(next(), C, `${what} nextUpdate`);
  const revokedSerials = new Set<string>();
  if (fields[i]?.tag === DER.SEQUENCE) {
    for (const entry of readChildren(next()!.content, C, `${what} entries`)) {
      const [serial, date] =
        entry.tag === DER.SEQUENCE ? readChildren(entry.content, C, `${what} entry`) : [];
      if (serial?.tag !== DER.INTEGER || serial.content.length === 0)
        fail(C, `${what}: revoked entry without a serial number`);
      derTime(date, C, `${what} revocationDate`);
      revokedSerials.add(normaliseSerial(Buffer.from(serial.content).toString('hex')));
    }
  }
  if (fields[i]?.tag === 0xa0) i++;
  if (i !== fields.length) fail(C, `${what}: unexpected fields after the revoked certificates`);
  const [algOid] = readChildren(alg.content, C, what);
  if (algOid?.tag !== DER.OID) fail(C, `${what}: no signature algorithm`);
  if (sig.content[0] !== 0) fail(C, `${what}: signature BIT STRING has unused bits`);
  return {
    der,
    tbs: tbs.raw,
    issuerNameDer: issuer.raw,
    signatureAlgorithm: oidToString(algOid.content),
    signature: sig.content.subarray(1),
    thisUpdate,
    nextUpdate,
    revokedSerials,
  };
}

const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

/** RFC 5280 §4.1.2.5: UTCTime YYMMDDHHMMSSZ (YY ≥ 50 → 19YY) or GeneralizedTime YYYYMMDDHHMMSSZ. */
function derTime(t: Tlv | undefined, code: 'CRL_MALFORMED', what: string): Date {
  const s = t ? Buffer.from(t.content).toString('latin1') : '';
  const utc = t?.tag === UTC_TIME ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : null;
  const gen = t?.tag === GENERALIZED_TIME ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : null;
  const m = utc ?? gen;
  if (!m) return fail(code, `${what}: not a DER UTCTime/GeneralizedTime`);
  const y = Number(m[1]);
  const year = gen ? y : y >= 50 ? 1900 + y : 2000 + y;
  const d = new Date(
    Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])),
  );
  if (Number.isNaN(d.getTime()) || d.getUTCDate() !== Number(m[3])) fail(code, `${what}: invalid date ${s}`);
  return d;
}

export function normaliseSerial(hex: string): string {
  return hex.toUpperCase().replace(/^0+(?=.)/, '');
}

/**
 * Verifies a CRL against the certificate that should have issued it: same issuer name (DER), a valid
 * signature by its key, and `now` within [thisUpdate, nextUpdate].
 */
export function verifyCrl(crl: ParsedCrl, issuer: X509Certificate, what: string, now: Date): void {
  if (!bytesEqual(crl.issuerNameDer, subjectNameDer(issuer))) {
    fail('CRL_INVALID', `${what}: issued by a different CA than ${commonName(issuer)}`, { what });
  }
  let ok = false;
  try {
    if (crl.signatureAlgorithm === OID_ECDSA_SHA256 || crl.signatureAlgorithm === OID_ECDSA_SHA384) {
      const hash = crl.signatureAlgorithm === OID_ECDSA_SHA256 ? 'sha256' : 'sha384';
      ok = cryptoVerify(hash, crl.tbs, { key: issuer.publicKey, dsaEncoding: 'der' }, crl.signature);
    } else if (crl.signatureAlgorithm === OID_RSASSA_PSS) {
      // AMD KDS CRLs: RSASSA-PSS with SHA-384 and a 48-byte salt (AMD SEV-SNP KDS spec, "CRL").
      ok = cryptoVerify(
        'sha384',
        crl.tbs,
        { key: issuer.publicKey, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: 48 },
        crl.signature,
      );
    } else {
      fail('CRL_INVALID', `${what}: unsupported signature algorithm ${crl.signatureAlgorithm}`, { what });
    }
  } catch (e) {
    if (e instanceof Error && e.name === 'AttestationError') throw e;
    ok = false;
  }
  if (!ok)
    fail('CRL_INVALID', `${what}: signature does not verify with ${commonName(issuer)}'s key`, { what });
  checkWindow(what, crl.thisUpdate, crl.nextUpdate, now);
}

export function isRevoked(crl: ParsedCrl, cert: X509Certificate): boolean {
  return crl.revokedSerials.has(normaliseSerial(cert.serialNumber));
}

import 'reflect-metadata';
import {
  createHash,
  constants as cryptoConstants,
  verify as cryptoVerify,
  X509Certificate,
} from 'node:crypto';
import { X509Crl } from '@peculiar/x509';
import { bytesEqual, toHex } from './bytes.js';
import { DER, oidToString, readChildren, readWhole } from './der.js';
import { fail } from './errors.js';

/*
 * Certificates and CRLs for both vendors. Why these libraries: `node:crypto`'s X509Certificate
 * verifies ECDSA P-256 (Intel) and RSA-PSS SHA-384 (AMD) signatures correctly and synchronously;
 * node-forge cannot parse EC-key certificates and digests RSA-PSS certificates with SHA-256, so it is
 * not used. CRL entries and dates are read with @peculiar/x509; the to-be-signed bytes and the issuer
 * name are sliced with our DER reader so the CRL signature is checked with node:crypto as well.
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

/** Parses every certificate of a PEM bundle, in order. An empty bundle is malformed. */
export function parsePemChain(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) fail('CERT_MALFORMED', `${what}: no PEM certificate found`, { what });
  return blocks.map((b, i) => parseCertificate(b, `${what}[${i}]`));
}

/** SHA-256 of the certificate's SubjectPublicKeyInfo (DER): what root pins compare. */
export function spkiSha256(cert: X509Certificate): Uint8Array {
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return new Uint8Array(createHash('sha256').update(spki).digest());
}

export function certValidity(cert: X509Certificate): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
}

/** Fails with COLLATERAL_NOT_YET_VALID / COLLATERAL_EXPIRED when `now` is outside [from, to]. */
export function checkWindow(what: string, from: Date, to: Date, now: Date): void {
  // An invalid Date compares false with everything: it would pass every window.
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) fail('INVALID_ARGUMENT', '`now` is not a valid time');
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
  if (!root.checkIssued(root) || !safeVerify(root, root)) {
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

function safeVerify(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.verify(parent.publicKey);
  } catch {
    return false;
  }
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

/** Parses a DER CRL (RFC 5280 §5.1). A CRL without nextUpdate is refused: freshness could not be judged. */
export function parseCrl(der: Uint8Array, what: string): ParsedCrl {
  const outer = readWhole(der, DER.SEQUENCE, 'CRL_MALFORMED', what);
  const [tbs, alg, sig] = readChildren(outer.content, 'CRL_MALFORMED', what);
  if (
    !tbs ||
    !alg ||
    !sig ||
    tbs.tag !== DER.SEQUENCE ||
    alg.tag !== DER.SEQUENCE ||
    sig.tag !== DER.BIT_STRING
  ) {
    fail('CRL_MALFORMED', `${what}: not a CertificateList`);
  }
  const fields = readChildren(tbs.content, 'CRL_MALFORMED', what);
  const hasVersion = fields[0]?.tag === DER.INTEGER;
  const issuer = fields[hasVersion ? 2 : 1];
  if (!issuer || issuer.tag !== DER.SEQUENCE) fail('CRL_MALFORMED', `${what}: no issuer name`);
  const [algOid] = readChildren(alg.content, 'CRL_MALFORMED', what);
  if (!algOid || algOid.tag !== DER.OID) fail('CRL_MALFORMED', `${what}: no signature algorithm`);
  if (sig.content[0] !== 0) fail('CRL_MALFORMED', `${what}: signature BIT STRING has unused bits`);
  let crl: X509Crl;
  try {
    crl = new X509Crl(Buffer.from(der));
  } catch (e) {
    return fail('CRL_MALFORMED', `${what}: not a parsable CRL`, { what }, e);
  }
  if (!crl.nextUpdate) fail('CRL_MALFORMED', `${what}: CRL has no nextUpdate`);
  const revokedSerials = new Set(crl.entries.map((e) => normaliseSerial(e.serialNumber)));
  return {
    der,
    tbs: tbs.raw,
    issuerNameDer: issuer.raw,
    signatureAlgorithm: oidToString(algOid.content),
    signature: sig.content.subarray(1),
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    revokedSerials,
  };
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

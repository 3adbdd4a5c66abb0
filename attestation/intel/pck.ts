import { createHash, type X509Certificate } from 'node:crypto';
import { toHex } from '../bytes.js';
import type { VerifyCache } from '../cache.js';
import { DER, derUint, oidToString, readChildren, readWhole, type Tlv } from '../der.js';
import { fail } from '../errors.js';
import {
  certValidity,
  checkWindow,
  commonName,
  type PemMemo,
  parsePemChain,
  subjectNameDer,
  verifyChain,
} from '../x509.js';
import type { PckExtensions } from './types.js';

/*
 * The Intel SGX extension of PCK certificates ("Intel SGX PCK Certificate and Certificate
 * Revocation List Profile Specification", §1.3.5 "Intel SGX Extensions", table "SGX Extensions"):
 *
 *   SGX Extensions 1.2.840.113741.1.13.1 ::= SEQUENCE OF SEQUENCE { OID, value }
 *     .1  PPID          OCTET STRING (16)
 *     .2  TCB           SEQUENCE OF SEQUENCE { OID, value }
 *           .2.1 … .2.16  SGXTCBComp01SVN … SGXTCBComp16SVN  INTEGER (0..255)
 *           .2.17         PCESVN                            INTEGER (0..65535)
 *           .2.18         CPUSVN                            OCTET STRING (16)
 *     .3  PCE-ID        OCTET STRING (2)
 *     .4  FMSPC         OCTET STRING (6)
 *     .5  SGX Type      ENUMERATED (0 Standard, 1 Scalable, 2 Scalable with Integrity)
 *     .6  PlatformInstanceID, .7 Configuration (Platform CA certificates only; not used here)
 */

export const OID_SGX_EXTENSIONS = '1.2.840.113741.1.13.1';
const OID_EXTENSIONS_TAG = 0xa3; // tbsCertificate [3] EXPLICIT Extensions (RFC 5280 §4.1)

/** Reads the SGX extension of a PCK certificate. Throws CERT_MALFORMED when it is absent or ill-formed. */
export function parsePckExtensions(cert: X509Certificate): PckExtensions {
  return parsePckExtensionsDer(new Uint8Array(cert.raw));
}

/** As `parsePckExtensions`, from the certificate's DER. */
export function parsePckExtensionsDer(der: Uint8Array): PckExtensions {
  const what = 'PCK certificate';
  const cert = readWhole(der, DER.SEQUENCE, 'CERT_MALFORMED', what);
  const [tbs] = readChildren(cert.content, 'CERT_MALFORMED', what);
  if (!tbs || tbs.tag !== DER.SEQUENCE) return fail('CERT_MALFORMED', `${what}: no to-be-signed sequence`);
  const extsWrapper = readChildren(tbs.content, 'CERT_MALFORMED', what).find(
    (t) => t.tag === OID_EXTENSIONS_TAG,
  );
  if (!extsWrapper) return fail('CERT_MALFORMED', `${what}: no extensions`);
  const exts = readWhole(extsWrapper.content, DER.SEQUENCE, 'CERT_MALFORMED', `${what} extensions`);
  for (const ext of readChildren(exts.content, 'CERT_MALFORMED', `${what} extensions`)) {
    const parts = readChildren(ext.content, 'CERT_MALFORMED', `${what} extension`);
    const oid = parts[0];
    const value = parts[parts.length - 1];
    if (!oid || oid.tag !== DER.OID || !value || value.tag !== DER.OCTET_STRING) {
      return fail('CERT_MALFORMED', `${what}: ill-formed extension`);
    }
    if (oidToString(oid.content) === OID_SGX_EXTENSIONS) return parseSgxExtensionValue(value.content);
  }
  return fail('CERT_MALFORMED', `${what}: no Intel SGX extension (${OID_SGX_EXTENSIONS})`);
}

function parseSgxExtensionValue(value: Uint8Array): PckExtensions {
  const what = 'PCK SGX extension';
  const seq = readWhole(value, DER.SEQUENCE, 'CERT_MALFORMED', what);
  const items = new Map<string, Tlv>();
  for (const [oid, v] of pairs(seq.content, what)) {
    if (items.has(oid)) fail('CERT_MALFORMED', `${what}: duplicate ${oid}`);
    items.set(oid, v);
  }
  const get = (suffix: string, tag: number, len?: number): Tlv => {
    const t = items.get(`${OID_SGX_EXTENSIONS}.${suffix}`);
    if (!t) return fail('CERT_MALFORMED', `${what}: missing ${OID_SGX_EXTENSIONS}.${suffix}`);
    if (t.tag !== tag)
      return fail(
        'CERT_MALFORMED',
        `${what}: ${OID_SGX_EXTENSIONS}.${suffix} has DER tag 0x${t.tag.toString(16)}`,
      );
    if (len !== undefined && t.content.length !== len) {
      fail(
        'CERT_MALFORMED',
        `${what}: ${OID_SGX_EXTENSIONS}.${suffix} is ${t.content.length} bytes, expected ${len}`,
      );
    }
    return t;
  };

  const ppid = get('1', DER.OCTET_STRING, 16).content.slice();
  const tcb = get('2', DER.SEQUENCE);
  const pceId = get('3', DER.OCTET_STRING, 2).content.slice();
  const fmspc = get('4', DER.OCTET_STRING, 6).content.slice();
  const sgxType = derUint(get('5', DER.ENUMERATED).content, 'CERT_MALFORMED', `${what} SGX Type`);

  const tcbItems = new Map<string, Tlv>(pairs(tcb.content, `${what} TCB`));
  const tcbOid = `${OID_SGX_EXTENSIONS}.2`;
  const tcbComponents: number[] = [];
  for (let i = 1; i <= 16; i++) {
    const t = tcbItems.get(`${tcbOid}.${i}`);
    if (!t || t.tag !== DER.INTEGER) return fail('CERT_MALFORMED', `${what}: missing SGXTCBComp${i}SVN`);
    const v = derUint(t.content, 'CERT_MALFORMED', `${what} SGXTCBComp${i}SVN`);
    if (v > 255) fail('CERT_MALFORMED', `${what}: SGXTCBComp${i}SVN ${v} exceeds 255`);
    tcbComponents.push(v);
  }
  const pceSvnTlv = tcbItems.get(`${tcbOid}.17`);
  if (!pceSvnTlv || pceSvnTlv.tag !== DER.INTEGER) return fail('CERT_MALFORMED', `${what}: missing PCESVN`);
  const pceSvn = derUint(pceSvnTlv.content, 'CERT_MALFORMED', `${what} PCESVN`);
  if (pceSvn > 0xffff) fail('CERT_MALFORMED', `${what}: PCESVN ${pceSvn} exceeds 65535`);
  const cpuSvnTlv = tcbItems.get(`${tcbOid}.18`);
  if (!cpuSvnTlv || cpuSvnTlv.tag !== DER.OCTET_STRING || cpuSvnTlv.content.length !== 16) {
    return fail('CERT_MALFORMED', `${what}: missing or ill-sized CPUSVN`);
  }
  return { ppid, cpuSvn: cpuSvnTlv.content.slice(), tcbComponents, pceSvn, pceId, fmspc, sgxType };
}

/** The SEQUENCE { OID, value } items of a SEQUENCE's content, as [dotted OID, value TLV]. */
function pairs(content: Uint8Array, what: string): [string, Tlv][] {
  return readChildren(content, 'CERT_MALFORMED', what).map((item) => {
    if (item.tag !== DER.SEQUENCE) return fail('CERT_MALFORMED', `${what}: item is not a SEQUENCE`);
    const [oid, value, extra] = readChildren(item.content, 'CERT_MALFORMED', what);
    if (!oid || oid.tag !== DER.OID || !value || extra)
      return fail('CERT_MALFORMED', `${what}: item is not { OID, value }`);
    return [oidToString(oid.content), value];
  });
}

/**
 * The PCK certificate chain carried in a quote (certification data type 5), after its signatures were
 * checked up to a pinned Intel SGX Root CA.
 */
export interface VerifiedPckChain {
  readonly pck: X509Certificate;
  /** Intel SGX PCK Platform CA or PCK Processor CA. */
  readonly pckCa: X509Certificate;
  readonly root: X509Certificate;
  readonly extensions: PckExtensions;
  /** DER subject names of the PCK CA and of the root (what the CRL issuers must equal). */
  readonly pckCaNameDer: Uint8Array;
  readonly rootNameDer: Uint8Array;
}

interface CachedChain extends VerifiedPckChain {
  readonly windows: readonly { readonly what: string; readonly notBefore: Date; readonly notAfter: Date }[];
}

/**
 * Verifies the PCK chain (PCK leaf, PCK CA, Root CA; exactly three, as Intel's QVL requires) with
 * `verifyChain` and reads the SGX extension of the leaf. With a cache, the signature checks and the
 * parsing are memoised by the SHA-256 of the exact PEM bytes (and of the root pins); the validity
 * windows are checked at `now` on every call.
 */
export function verifyPckChain(
  pem: Uint8Array,
  opts: {
    readonly now: Date;
    readonly pinnedRoots: readonly Uint8Array[];
    readonly cache?: VerifyCache | undefined;
    /** Certificates already parsed in this verification call (see `parsePemChain`). */
    readonly pemMemo?: PemMemo | undefined;
  },
): VerifiedPckChain {
  const key = opts.cache ? cacheKey(pem, opts.pinnedRoots) : undefined;
  const hit = key ? opts.cache?.get<CachedChain>(key) : undefined;
  if (hit) {
    for (const w of hit.windows) checkWindow(w.what, w.notBefore, w.notAfter, opts.now);
    return hit;
  }
  const chain = parsePemChain(Buffer.from(pem).toString('latin1'), 'PCK certificate chain', opts.pemMemo);
  if (chain.length !== 3) {
    fail(
      'CERT_CHAIN_INVALID',
      `PCK certificate chain has ${chain.length} certificates, expected 3 (PCK, PCK CA, Root CA)`,
      {
        count: chain.length,
      },
    );
  }
  const [pck, pckCa, root] = chain as [X509Certificate, X509Certificate, X509Certificate];
  if (pck.ca)
    fail('CERT_CHAIN_INVALID', `PCK certificate chain: the leaf ${commonName(pck)} is a CA certificate`);
  verifyChain(chain, 'PCK certificate chain', { now: opts.now, pinnedRoots: opts.pinnedRoots });
  const entry: CachedChain = {
    pck,
    pckCa,
    root,
    extensions: parsePckExtensions(pck),
    pckCaNameDer: subjectNameDer(pckCa),
    rootNameDer: subjectNameDer(root),
    windows: chain.map((c, i) => ({
      what: `PCK certificate chain certificate ${i} (${commonName(c)})`,
      ...certValidity(c),
    })),
  };
  if (key) opts.cache?.set(key, entry);
  return entry;
}

function cacheKey(pem: Uint8Array, pins: readonly Uint8Array[]): string {
  const h = createHash('sha256').update(pem);
  for (const p of pins) h.update(p);
  return `intel-pck-chain:${toHex(new Uint8Array(h.digest()))}`;
}

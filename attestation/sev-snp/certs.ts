import type { X509Certificate } from 'node:crypto';
import { DER, derUint, oidToString, readChildren, readWhole, type Tlv } from '../der.js';
import { fail } from '../errors.js';
import { commonName, parseCertificate, parsePemChain } from '../x509.js';
import type { SnpProduct } from './tcb.js';

/*
 * AMD VCEK / VLEK certificates: the AMD-specific X.509 extensions and the product they belong to.
 * OIDs from "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface Specification"
 * #57230, table "VCEK Certificate Extensions" (and the VLEK spec #58369, which adds csp_id): every
 * value is an OCTET STRING wrapping a DER INTEGER (SPLs, struct version), an IA5String (product name,
 * csp_id) or raw bytes (hwID).
 */

const AMD = '1.3.6.1.4.1.3704.1';
export const AMD_OIDS = {
  structVersion: `${AMD}.1`,
  productName: `${AMD}.2`,
  blSPL: `${AMD}.3.1`,
  teeSPL: `${AMD}.3.2`,
  snpSPL: `${AMD}.3.3`,
  spl4: `${AMD}.3.4`,
  spl5: `${AMD}.3.5`,
  spl6: `${AMD}.3.6`,
  spl7: `${AMD}.3.7`,
  ucodeSPL: `${AMD}.3.8`,
  fmcSPL: `${AMD}.3.9`,
  hwID: `${AMD}.4`,
  cspId: `${AMD}.5`,
} as const;

export interface AmdKeyExtensions {
  readonly structVersion: number;
  /** e.g. "Milan-B0", "Genoa", "Turin" (VLEKs: "Milan"). */
  readonly productName: string;
  readonly blSPL: number;
  readonly teeSPL: number;
  readonly snpSPL: number;
  readonly ucodeSPL: number;
  /** Turin only. */
  readonly fmcSPL?: number;
  /** spl_4..spl_7 where present (reserved SPLs, zero today). */
  readonly reservedSPLs: Readonly<Record<string, number>>;
  /** VCEK only: 64 bytes (Milan, Genoa) or 8 bytes (Turin). */
  readonly hwID?: Uint8Array;
  /** VLEK only: the cloud provider the VLEK was issued to. */
  readonly cspId?: string;
}

export type AmdKeyKind = 'vcek' | 'vlek';

function malformed(what: string, why: string): never {
  return fail('CERT_MALFORMED', `${what}: ${why}`, { what });
}

/** The Extension SEQUENCEs of a certificate (RFC 5280 §4.1: tbsCertificate [3] EXPLICIT Extensions). */
function extensionsOf(der: Uint8Array, what: string): Map<string, Uint8Array> {
  const outer = readWhole(der, DER.SEQUENCE, 'CERT_MALFORMED', what);
  const [tbs] = readChildren(outer.content, 'CERT_MALFORMED', what);
  if (!tbs || tbs.tag !== DER.SEQUENCE) malformed(what, 'no tbsCertificate');
  const fields = readChildren(tbs.content, 'CERT_MALFORMED', what);
  const wrapper = fields.find((f) => f.tag === 0xa3);
  const out = new Map<string, Uint8Array>();
  if (!wrapper) return out;
  const [seq] = readChildren(wrapper.content, 'CERT_MALFORMED', what);
  if (!seq || seq.tag !== DER.SEQUENCE) malformed(what, 'extensions are not a SEQUENCE');
  for (const ext of readChildren(seq.content, 'CERT_MALFORMED', what)) {
    const parts = readChildren(ext.content, 'CERT_MALFORMED', what);
    const oid = parts[0];
    const value = parts[parts.length - 1];
    if (!oid || oid.tag !== DER.OID || !value || value.tag !== DER.OCTET_STRING || parts.length > 3) {
      malformed(what, 'malformed Extension');
    }
    const id = oidToString(oid.content);
    if (out.has(id)) malformed(what, `duplicate extension ${id}`);
    out.set(id, value.content);
  }
  return out;
}

function innerTlv(value: Uint8Array, tag: number, what: string, name: string): Tlv {
  const t = readWhole(value, tag, 'CERT_MALFORMED', `${what} ${name}`);
  return t;
}

/** Parses the AMD extensions of a VCEK or VLEK certificate. */
export function parseAmdKeyExtensions(cert: X509Certificate, what = 'VCEK'): AmdKeyExtensions {
  const exts = extensionsOf(new Uint8Array(cert.raw), what);
  const int = (name: keyof typeof AMD_OIDS, required: boolean): number | undefined => {
    const v = exts.get(AMD_OIDS[name]);
    if (v === undefined) {
      if (required) malformed(what, `AMD extension ${name} (${AMD_OIDS[name]}) is missing`);
      return undefined;
    }
    return derUint(innerTlv(v, DER.INTEGER, what, name).content, 'CERT_MALFORMED', `${what} ${name}`);
  };
  const ia5 = (name: keyof typeof AMD_OIDS): string | undefined => {
    const v = exts.get(AMD_OIDS[name]);
    if (v === undefined) return undefined;
    const t = innerTlv(v, 0x16, what, name);
    for (const c of t.content) if (c > 0x7e || c < 0x20) malformed(what, `${name} is not printable IA5`);
    return Buffer.from(t.content).toString('latin1');
  };
  const productName = ia5('productName');
  if (productName === undefined)
    malformed(what, `AMD extension productName (${AMD_OIDS.productName}) is missing`);
  const reservedSPLs: Record<string, number> = {};
  for (const k of ['spl4', 'spl5', 'spl6', 'spl7'] as const) {
    const v = int(k, false);
    if (v !== undefined) reservedSPLs[k] = v;
  }
  const fmcSPL = int('fmcSPL', false);
  const hwID = exts.get(AMD_OIDS.hwID);
  const cspId = ia5('cspId');
  return {
    structVersion: int('structVersion', true)!,
    productName,
    blSPL: int('blSPL', true)!,
    teeSPL: int('teeSPL', true)!,
    snpSPL: int('snpSPL', true)!,
    ucodeSPL: int('ucodeSPL', true)!,
    ...(fmcSPL !== undefined && { fmcSPL }),
    reservedSPLs,
    ...(hwID !== undefined && { hwID: hwID.slice() }),
    ...(cspId !== undefined && { cspId }),
  };
}

const PRODUCT_NAMES: Record<string, SnpProduct> = { Milan: 'Milan', Genoa: 'Genoa', Turin: 'Turin' };

/** "Milan-B0" → Milan: the product line is the part before the stepping suffix. */
export function productFromName(name: string): SnpProduct | undefined {
  return PRODUCT_NAMES[name.split('-')[0] ?? ''];
}

/**
 * The product a VCEK/VLEK belongs to, from its productName extension and its issuer (the ASK is
 * "SEV-{product}", the ASVK "SEV-VLEK-{product}", #57230 "Certificate Chain"). Both must agree.
 */
export function productOfKeyCert(
  cert: X509Certificate,
  ext: AmdKeyExtensions,
  kind: AmdKeyKind,
  what: string,
): SnpProduct {
  const fromExt = productFromName(ext.productName);
  const issuerCn = /(?:^|\n)CN=([^\n]*)/.exec(cert.issuer)?.[1] ?? '';
  const prefix = kind === 'vcek' ? 'SEV-' : 'SEV-VLEK-';
  const fromIssuer = issuerCn.startsWith(prefix) ? productFromName(issuerCn.slice(prefix.length)) : undefined;
  if (!fromExt) malformed(what, `unknown product name "${ext.productName}"`);
  if (fromIssuer !== fromExt) {
    malformed(
      what,
      `issuer "${issuerCn}" does not match the product name "${ext.productName}" of a ${kind.toUpperCase()}`,
    );
  }
  return fromExt;
}

/** Subject CN of a VCEK / VLEK (#57230 and the VLEK spec, "Certificate Chain"). */
export const KEY_CERT_CN: Readonly<Record<AmdKeyKind, string>> = { vcek: 'SEV-VCEK', vlek: 'SEV-VLEK' };

/** Subject CN of each AMD CA role: SEV-{product} (ASK), SEV-VLEK-{product} (ASVK), ARK-{product}. */
export function expectedCn(role: 'ask' | 'asvk' | 'ark', product: SnpProduct): string {
  switch (role) {
    case 'ask':
      return `SEV-${product}`;
    case 'asvk':
      return `SEV-VLEK-${product}`;
    case 'ark':
      return `ARK-${product}`;
  }
}

export function parseKeyCert(der: Uint8Array, what: string): X509Certificate {
  return parseCertificate(der, what);
}

/** The ASK/ASVK then ARK, from a PEM bundle (KDS cert_chain order) or already-parsed certificates. */
export function parseAmdChain(
  chain: readonly X509Certificate[] | string,
  what: string,
): readonly X509Certificate[] {
  const certs = typeof chain === 'string' ? parsePemChain(chain, what) : chain;
  if (certs.length !== 2) {
    fail(
      'CERT_CHAIN_INVALID',
      `${what}: expected 2 certificates (ASK or ASVK, then ARK), got ${certs.length}`,
      {
        what,
        count: certs.length,
      },
    );
  }
  return certs;
}

/** Fails with CERT_CHAIN_INVALID when a certificate's subject CN is not the one its role requires. */
export function checkRole(cert: X509Certificate, cn: string, what: string): void {
  const got = commonName(cert);
  if (got !== cn)
    fail('CERT_CHAIN_INVALID', `${what}: expected subject CN "${cn}", found "${got}"`, {
      what,
      expected: cn,
      got,
    });
}

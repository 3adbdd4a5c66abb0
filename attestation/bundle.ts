import { fail } from './errors.js';
import type { IntelCollateral } from './intel/types.js';

/**
 * Evidence plus what a verifier needs to check it offline: Intel collateral for a quote, or the
 * VCEK/VLEK and AMD chain for an SNP report. This is what an executor presents in its ServerHello
 * and what `defaas attest verify` assembles from files.
 */
export interface SnpCollateral {
  /** DER VCEK (the report's SIGNER_INFO says which key signed). */
  readonly vcek?: Uint8Array;
  /** DER VLEK. */
  readonly vlek?: Uint8Array;
  /** PEM: ASK (or ASVK), then ARK — the order of AMD KDS `cert_chain`. */
  readonly chain?: string;
  /** DER CRL signed by the ARK. */
  readonly crl?: Uint8Array;
}

export interface EvidenceBundle {
  readonly evidence: Uint8Array;
  readonly intel?: IntelCollateral;
  readonly snp?: SnpCollateral;
}

/** Encoded bundles above this size are refused before parsing (a TDX quote with collateral is ~30 KiB). */
export const MAX_BUNDLE_BYTES = 1 << 20;

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** Encodes a bundle as UTF-8 JSON with base64 binaries (version 1). */
export function encodeEvidenceBundle(b: EvidenceBundle): Uint8Array {
  const o: Record<string, unknown> = { v: 1, evidence: b64(b.evidence) };
  if (b.intel) {
    const i = b.intel;
    o.intel = {
      tcbInfo: {
        text: i.tcbInfo.text,
        signature: b64(i.tcbInfo.signature),
        issuerChain: i.tcbInfo.issuerChain,
      },
      qeIdentity: {
        text: i.qeIdentity.text,
        signature: b64(i.qeIdentity.signature),
        issuerChain: i.qeIdentity.issuerChain,
      },
      pckCrl: b64(i.pckCrl),
      pckCrlIssuerChain: i.pckCrlIssuerChain,
      rootCaCrl: b64(i.rootCaCrl),
    };
  }
  if (b.snp) {
    const s = b.snp;
    o.snp = {
      ...(s.vcek && { vcek: b64(s.vcek) }),
      ...(s.vlek && { vlek: b64(s.vlek) }),
      ...(s.chain && { chain: s.chain }),
      ...(s.crl && { crl: b64(s.crl) }),
    };
  }
  return new TextEncoder().encode(JSON.stringify(o));
}

export function decodeEvidenceBundle(bytes: Uint8Array): EvidenceBundle {
  const bad = (why: string): never => fail('COLLATERAL_MALFORMED', `evidence bundle: ${why}`);
  if (bytes.length > MAX_BUNDLE_BYTES)
    bad(`${bytes.length} bytes exceeds the ${MAX_BUNDLE_BYTES}-byte limit`);
  let o: unknown;
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return bad('not UTF-8 JSON');
  }
  if (!rec(o) || o.v !== 1) return bad('unsupported version');
  const bin = (x: unknown, what: string): Uint8Array => {
    if (typeof x !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(x)) return bad(`${what} is not base64`);
    return new Uint8Array(Buffer.from(x, 'base64'));
  };
  const str = (x: unknown, what: string): string =>
    typeof x === 'string' ? x : bad(`${what} is not a string`);
  const signed = (x: unknown, what: string) => {
    if (!rec(x)) return bad(`${what} is missing`);
    return {
      text: str(x.text, `${what}.text`),
      signature: bin(x.signature, `${what}.signature`),
      issuerChain: str(x.issuerChain, `${what}.issuerChain`),
    };
  };
  const out: { evidence: Uint8Array; intel?: IntelCollateral; snp?: SnpCollateral } = {
    evidence: bin(o.evidence, 'evidence'),
  };
  if (o.intel !== undefined) {
    const i = rec(o.intel) ? o.intel : bad('intel is not an object');
    out.intel = {
      tcbInfo: signed(i.tcbInfo, 'intel.tcbInfo'),
      qeIdentity: signed(i.qeIdentity, 'intel.qeIdentity'),
      pckCrl: bin(i.pckCrl, 'intel.pckCrl'),
      pckCrlIssuerChain: str(i.pckCrlIssuerChain, 'intel.pckCrlIssuerChain'),
      rootCaCrl: bin(i.rootCaCrl, 'intel.rootCaCrl'),
    };
  }
  if (o.snp !== undefined) {
    const s = rec(o.snp) ? o.snp : bad('snp is not an object');
    out.snp = {
      ...(s.vcek !== undefined && { vcek: bin(s.vcek, 'snp.vcek') }),
      ...(s.vlek !== undefined && { vlek: bin(s.vlek, 'snp.vlek') }),
      ...(s.chain !== undefined && { chain: str(s.chain, 'snp.chain') }),
      ...(s.crl !== undefined && { crl: bin(s.crl, 'snp.crl') }),
    };
  }
  return out;
}

function rec(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

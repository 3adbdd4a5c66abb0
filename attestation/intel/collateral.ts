import { createHash, verify as cryptoVerify, type X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesEqual, concatBytes } from '../bytes.js';
import { VerifyCache } from '../cache.js';
import { type AttestationError, type AttestationErrorCode, fail, isAttestationError } from '../errors.js';
import { DEFAULT_TRUST_ROOTS, type TrustRoots } from '../roots.js';
import {
  certValidity,
  checkWindow,
  commonName,
  isRevoked,
  type ParsedCrl,
  type PemMemo,
  parseCrl,
  parsePemChain,
  subjectNameDer,
  verifyChain,
  verifyCrl,
} from '../x509.js';
import { parseQeIdentity, type QeIdentity } from './qe-identity.js';
import { malformed, parseJsonObject, parseTcbInfo, str, type TcbInfo } from './tcb-info.js';
import type { IntelCollateral, SignedJson, VerifiedCollateral } from './types.js';

/*
 * Intel DCAP collateral: loading (dcap-qvl QuoteCollateralV3 JSON or a folder of Intel PCS responses)
 * and verification (signatures over the exact signed text, the TCB Signing and PCK CRL issuer chains up
 * to the pinned Intel SGX Root CA, the CRLs, revocation and the validity windows at `now`).
 * Intel QVL counterparts: TCBInfoVerifier / EnclaveIdentityVerifier / PckCrlVerifier
 * (Src/AttestationLibrary/src/Verifiers), called from `sgxAttestationVerifyQuote`.
 */

// --- exact signed text: the raw value of a top-level member, never re-serialised ---

function isWs(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

function skipWs(t: string, i: number): number {
  while (isWs(t[i])) i++;
  return i;
}

/** Index just past the JSON string starting at `i` (t[i] === '"'). */
function skipString(t: string, i: number, what: string): number {
  for (let j = i + 1; j < t.length; j++) {
    const c = t[j];
    if (c === '\\') j++;
    else if (c === '"') return j + 1;
  }
  return malformed(what, 'unterminated JSON string');
}

/** Index just past the JSON value starting at `i`. The whole text was already checked by JSON.parse. */
function skipValue(t: string, i: number, what: string): number {
  const c = t[i];
  if (c === '"') return skipString(t, i, what);
  if (c === '{' || c === '[') {
    let depth = 0;
    for (let j = i; j < t.length; j++) {
      const d = t[j];
      if (d === '"') {
        j = skipString(t, j, what) - 1;
      } else if (d === '{' || d === '[') {
        depth++;
      } else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return malformed(what, 'unbalanced JSON');
  }
  let j = i;
  while (j < t.length && !isWs(t[j]) && t[j] !== ',' && t[j] !== '}' && t[j] !== ']') j++;
  return j;
}

/**
 * The raw text of every member of the top-level JSON object, exactly as it appears in `text`. Duplicate
 * keys are refused: JSON.parse would keep the last one, a careless scanner the first, and the two
 * readings of one signed response must never differ.
 */
export function topLevelRawMembers(text: string, what: string): Map<string, string> {
  try {
    JSON.parse(text);
  } catch (e) {
    return fail(
      'COLLATERAL_MALFORMED',
      `${what}: not valid JSON (${(e as Error).message})`,
      { item: what },
      e,
    );
  }
  const out = new Map<string, string>();
  let i = skipWs(text, 0);
  if (text[i] !== '{') malformed(what, 'expected a JSON object');
  i = skipWs(text, i + 1);
  if (text[i] === '}') return out;
  for (;;) {
    const keyEnd = skipString(text, i, what);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWs(text, keyEnd) + 1; // past ':'
    const start = skipWs(text, i);
    const end = skipValue(text, start, what);
    if (out.has(key)) malformed(what, `duplicate key "${key}"`);
    out.set(key, text.slice(start, end));
    i = skipWs(text, end);
    if (text[i] === ',') {
      i = skipWs(text, i + 1);
      continue;
    }
    break;
  }
  return out;
}

/**
 * A PCS TCB Info / QE Identity response body (`{"tcbInfo":{…},"signature":"hex"}` or
 * `{"enclaveIdentity":{…},"signature":"hex"}`): the signed object text verbatim and its signature.
 */
export function parsePcsSignedResponse(
  body: string,
  key: 'tcbInfo' | 'enclaveIdentity',
  what: string,
): { text: string; signature: Uint8Array } {
  const members = topLevelRawMembers(body, what);
  const text = members.get(key);
  if (text === undefined) malformed(what, `missing field "${key}"`);
  if (!text.startsWith('{')) malformed(what, `field "${key}" must be a JSON object`);
  const sigRaw = members.get('signature');
  if (sigRaw === undefined) malformed(what, 'missing field "signature"');
  const sig = JSON.parse(sigRaw) as unknown;
  if (typeof sig !== 'string') malformed(what, 'field "signature" must be a hex string');
  return { text, signature: signatureHex(sig, `${what} signature`) };
}

function signatureHex(s: string, what: string): Uint8Array {
  if (!/^[0-9a-fA-F]{128}$/.test(s)) malformed(what, 'must be 64 bytes (r‖s) of hex');
  return new Uint8Array(Buffer.from(s, 'hex'));
}

function derHex(s: string, what: string): Uint8Array {
  if (s.length === 0 || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s))
    malformed(what, 'must be hex-encoded DER');
  return new Uint8Array(Buffer.from(s, 'hex'));
}

function pemText(s: string, what: string): string {
  if (!s.includes('-----BEGIN CERTIFICATE-----')) malformed(what, 'must be a PEM certificate chain');
  return s;
}

// --- loading ---

/**
 * Parses a `collateral.json` in dcap-qvl's QuoteCollateralV3 shape: `tcb_info` and `qe_identity` are the
 * exact signed texts (JSON strings), signatures hex r‖s, CRLs hex DER, issuer chains PEM.
 */
export function parseCollateralJson(text: string): IntelCollateral {
  const W = 'collateral.json';
  const o = parseJsonObject(text, W);
  const tcbInfoText = str(o, 'tcb_info', W);
  const qeText = str(o, 'qe_identity', W);
  return {
    tcbInfo: {
      text: tcbInfoText,
      signature: signatureHex(str(o, 'tcb_info_signature', W), `${W} tcb_info_signature`),
      issuerChain: pemText(str(o, 'tcb_info_issuer_chain', W), `${W} tcb_info_issuer_chain`),
    },
    qeIdentity: {
      text: qeText,
      signature: signatureHex(str(o, 'qe_identity_signature', W), `${W} qe_identity_signature`),
      issuerChain: pemText(str(o, 'qe_identity_issuer_chain', W), `${W} qe_identity_issuer_chain`),
    },
    pckCrl: derHex(str(o, 'pck_crl', W), `${W} pck_crl`),
    pckCrlIssuerChain: pemText(str(o, 'pck_crl_issuer_chain', W), `${W} pck_crl_issuer_chain`),
    rootCaCrl: derHex(str(o, 'root_ca_crl', W), `${W} root_ca_crl`),
  };
}

/** The files of a collateral folder in Intel PCS response format. */
export const PCS_COLLATERAL_FILES = {
  tcbInfo: 'tcb_info.json',
  tcbInfoIssuerChain: 'tcb_info_issuer_chain.pem',
  qeIdentity: 'qe_identity.json',
  qeIdentityIssuerChain: 'qe_identity_issuer_chain.pem',
  pckCrl: 'pck_crl.der',
  pckCrlIssuerChain: 'pck_crl_issuer_chain.pem',
  rootCaCrl: 'root_ca_crl.der',
} as const;

/** Assembles collateral from PCS response bodies (as read from a folder or fetched by pcs.ts). */
export function collateralFromPcsResponses(r: {
  tcbInfoBody: string;
  tcbInfoIssuerChain: string;
  qeIdentityBody: string;
  qeIdentityIssuerChain: string;
  pckCrl: Uint8Array;
  pckCrlIssuerChain: string;
  rootCaCrl: Uint8Array;
}): IntelCollateral {
  const tcb = parsePcsSignedResponse(r.tcbInfoBody, 'tcbInfo', 'TCB Info response');
  const qe = parsePcsSignedResponse(r.qeIdentityBody, 'enclaveIdentity', 'QE Identity response');
  return {
    tcbInfo: { ...tcb, issuerChain: pemText(r.tcbInfoIssuerChain, 'TCB Info issuer chain') },
    qeIdentity: { ...qe, issuerChain: pemText(r.qeIdentityIssuerChain, 'QE Identity issuer chain') },
    pckCrl: r.pckCrl,
    pckCrlIssuerChain: pemText(r.pckCrlIssuerChain, 'PCK CRL issuer chain'),
    rootCaCrl: r.rootCaCrl,
  };
}

/**
 * Loads collateral from `path`: a QuoteCollateralV3 `collateral.json` file, or a folder holding the
 * Intel PCS responses (PCS_COLLATERAL_FILES). Only I/O here; parsing is `parseCollateralJson` /
 * `collateralFromPcsResponses`.
 */
export async function loadIntelCollateral(path: string): Promise<IntelCollateral> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (e) {
    return fail('COLLATERAL_MISSING', `collateral not found at ${path}`, { path }, e);
  }
  if (!isDir) return parseCollateralJson(await readText(path));
  const f = PCS_COLLATERAL_FILES;
  const [
    tcbInfoBody,
    tcbInfoIssuerChain,
    qeIdentityBody,
    qeIdentityIssuerChain,
    pckCrl,
    pckCrlIssuerChain,
    rootCaCrl,
  ] = await Promise.all([
    readText(join(path, f.tcbInfo)),
    readText(join(path, f.tcbInfoIssuerChain)),
    readText(join(path, f.qeIdentity)),
    readText(join(path, f.qeIdentityIssuerChain)),
    readBytes(join(path, f.pckCrl)),
    readText(join(path, f.pckCrlIssuerChain)),
    readBytes(join(path, f.rootCaCrl)),
  ]);
  return collateralFromPcsResponses({
    tcbInfoBody,
    tcbInfoIssuerChain,
    qeIdentityBody,
    qeIdentityIssuerChain,
    pckCrl,
    pckCrlIssuerChain,
    rootCaCrl,
  });
}

async function readBytes(p: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(p));
  } catch (e) {
    return fail('COLLATERAL_MISSING', `cannot read collateral file ${p}`, { path: p }, e);
  }
}

async function readText(p: string): Promise<string> {
  const b = await readBytes(p);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch (e) {
    return fail('COLLATERAL_MALFORMED', `${p}: not UTF-8 text`, { path: p }, e);
  }
}

// --- verification ---

export interface VerifyCollateralOptions {
  readonly now: Date;
  readonly roots?: TrustRoots;
  /** Memo for time-independent results (signatures, chains, parsed JSON and CRLs). */
  readonly cache?: VerifyCache;
  /** Certificates already parsed in this verification call (see `parsePemChain`); `verifyQuote` shares its own. */
  readonly pemMemo?: PemMemo;
}

function sha256Hex(...parts: (Uint8Array | string)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
    // Length-prefix every part so that distinct tuples never hash alike.
    h.update(Buffer.from(`${b.length}:`));
    h.update(b);
  }
  return h.digest('hex');
}

function rootsKey(roots: TrustRoots): string {
  return sha256Hex(concatBytes(...roots.intel));
}

/** ECDSA P-256 / SHA-256 over `data`, raw r‖s; high-S accepted (OpenSSL does not normalise). */
function verifyP256(data: Uint8Array, signature: Uint8Array, key: X509Certificate): boolean {
  if (signature.length !== 64) return false;
  try {
    return cryptoVerify('sha256', data, { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/** Chain certificates' own windows: re-checked on every call, also on a cache hit. */
function checkChainWindows(chain: readonly X509Certificate[], what: string, now: Date): void {
  chain.forEach((c, i) => {
    const { notBefore, notAfter } = certValidity(c);
    checkWindow(`${what} certificate ${i} (${commonName(c)})`, notBefore, notAfter, now);
  });
}

/** An issuer chain as Intel issues it: exactly [CA or signing certificate, Intel SGX Root CA]. */
function verifyIssuerChain(
  pem: string,
  what: string,
  now: Date,
  roots: TrustRoots,
  cache: VerifyCache,
  pemMemo: PemMemo,
): readonly X509Certificate[] {
  const key = `intel-chain:${sha256Hex(pem)}:${rootsKey(roots)}`;
  const hit = cache.get<readonly X509Certificate[]>(key);
  if (hit) {
    checkChainWindows(hit, what, now);
    return hit;
  }
  const chain = parsePemChain(pem, what, pemMemo);
  if (chain.length !== 2) {
    fail(
      'CERT_CHAIN_INVALID',
      `${what}: expected 2 certificates (issuer, Intel SGX Root CA), found ${chain.length}`,
      {
        what,
      },
    );
  }
  verifyChain(chain, what, { now, pinnedRoots: roots.intel });
  cache.set(key, chain);
  return chain;
}

function verifySignedJson<T>(
  item: SignedJson,
  what: string,
  sigCode: AttestationErrorCode,
  parse: (text: string) => T,
  now: Date,
  roots: TrustRoots,
  cache: VerifyCache,
  pemMemo: PemMemo,
): { parsed: T; chain: readonly X509Certificate[] } {
  const parsed = parseCached(item.text, what, parse, cache);
  const chain = verifyIssuerChain(item.issuerChain, `${what} issuer chain`, now, roots, cache, pemMemo);
  const key = `intel-signed-json:${sha256Hex(item.text, item.signature, chain[0]!.raw)}`;
  if (cache.get<boolean>(key) !== true) {
    if (!verifyP256(Buffer.from(item.text, 'utf8'), item.signature, chain[0]!)) {
      fail(sigCode, `${what}: signature does not verify with ${commonName(chain[0]!)}'s key`, { item: what });
    }
    cache.set(key, true);
  }
  return { parsed, chain };
}

function parseCached<T>(text: string, what: string, parse: (text: string) => T, cache: VerifyCache): T {
  const key = `intel-json:${what}:${sha256Hex(text)}`;
  const hit = cache.get<T>(key);
  if (hit !== undefined) return hit;
  const v = parse(text);
  cache.set(key, v);
  return v;
}

/** Parses and verifies a CRL against its issuer; the signature is memoised, the window never is. */
function verifyCrlCached(
  der: Uint8Array,
  issuer: X509Certificate,
  what: string,
  now: Date,
  cache: VerifyCache,
): ParsedCrl {
  const key = `intel-crl:${sha256Hex(der, issuer.raw)}`;
  const hit = cache.get<ParsedCrl>(key);
  if (hit) {
    checkWindow(what, hit.thisUpdate, hit.nextUpdate, now);
    return hit;
  }
  const crl = parseCrl(der, what);
  verifyCrl(crl, issuer, what, now);
  cache.set(key, crl);
  return crl;
}

function checkNotRevoked(crl: ParsedCrl, cert: X509Certificate, what: string): void {
  if (isRevoked(crl, cert)) {
    fail(
      'CERT_REVOKED',
      `${what} (${commonName(cert)}, serial ${cert.serialNumber}) is revoked by the Intel SGX Root CA CRL`,
      {
        what,
        serial: cert.serialNumber,
      },
    );
  }
}

/**
 * Verifies delivered collateral at `now`:
 * - TCB Info and QE Identity: strict JSON, ECDSA P-256 signature over the exact text by the TCB Signing
 *   certificate, whose chain ends in a pinned Intel SGX Root CA; `now` within issueDate..nextUpdate;
 * - Root CA CRL signed by the root and current; TCB Signing and PCK CRL issuing CA not revoked by it;
 * - PCK CRL signed by the CA of its issuer chain and current.
 * Matching the collateral to a quote (FMSPC, PCE-ID, TEE type, QE report, PCK CRL issuer) is left to
 * `assessIntelTcb` (tcb-status.ts) and `checkPckRevocation`.
 */
export function verifyCollateral(c: IntelCollateral, opts: VerifyCollateralOptions): VerifiedCollateral {
  const { now } = opts;
  // An Invalid Date compares false with everything and would pass every window check.
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    fail('INVALID_ARGUMENT', 'verifyCollateral: `now` must be a valid Date');
  }
  const roots = opts.roots ?? DEFAULT_TRUST_ROOTS;
  // Without a caller's cache, memoise within this call only: no hidden state between calls.
  const cache = opts.cache ?? new VerifyCache();
  const pemMemo: PemMemo = opts.pemMemo ?? new Map();

  const tcb = verifySignedJson(
    c.tcbInfo,
    'TCB Info',
    'TCB_INFO_SIGNATURE_INVALID',
    parseTcbInfo,
    now,
    roots,
    cache,
    pemMemo,
  );
  const qe = verifySignedJson(
    c.qeIdentity,
    'QE Identity',
    'QE_IDENTITY_SIGNATURE_INVALID',
    parseQeIdentity,
    now,
    roots,
    cache,
    pemMemo,
  );
  const pckChain = verifyIssuerChain(c.pckCrlIssuerChain, 'PCK CRL issuer chain', now, roots, cache, pemMemo);

  // One root for everything: the Root CA CRL below speaks only for certificates under its own issuer.
  const root = tcb.chain[1]!;
  for (const [what, chain] of [
    ['QE Identity issuer chain', qe.chain],
    ['PCK CRL issuer chain', pckChain],
  ] as const) {
    if (!bytesEqual(new Uint8Array(chain[1]!.raw), new Uint8Array(root.raw))) {
      fail('CERT_CHAIN_INVALID', `${what} ends in a different root than the TCB Info issuer chain`, { what });
    }
  }
  const rootCaCrl = verifyCrlCached(c.rootCaCrl, root, 'Root CA CRL', now, cache);
  checkNotRevoked(rootCaCrl, tcb.chain[0]!, 'TCB Info signing certificate');
  checkNotRevoked(rootCaCrl, qe.chain[0]!, 'QE Identity signing certificate');
  checkNotRevoked(rootCaCrl, pckChain[0]!, 'PCK CRL issuing CA');

  const pckCrlIssuer = pckChain[0]!;
  const pckCrl = verifyCrlCached(c.pckCrl, pckCrlIssuer, 'PCK CRL', now, cache);

  checkWindow('TCB Info', tcb.parsed.issueDate, tcb.parsed.nextUpdate, now);
  checkWindow('QE Identity', qe.parsed.issueDate, qe.parsed.nextUpdate, now);

  const issued = [tcb.parsed.issueDate, qe.parsed.issueDate, pckCrl.thisUpdate, rootCaCrl.thisUpdate];
  const issuedAt = new Date(Math.min(...issued.map((d) => d.getTime())));
  return { tcbInfo: tcb.parsed, qeIdentity: qe.parsed, pckCrl, pckCrlIssuer, rootCaCrl, issuedAt };
}

/** `verifyCollateral` as a result instead of an exception (AttestationErrors only). */
export function tryVerifyCollateral(
  c: IntelCollateral,
  opts: VerifyCollateralOptions,
): { ok: true; value: VerifiedCollateral } | { ok: false; error: AttestationError } {
  try {
    return { ok: true, value: verifyCollateral(c, opts) };
  } catch (e) {
    if (isAttestationError(e)) return { ok: false, error: e };
    throw e;
  }
}

/**
 * Revocation of a quote's PCK chain against verified collateral (Intel QVL QuoteVerifier::verify,
 * 4.1.2.4.6-7): the PCK CRL must be issued by the CA that issued the PCK certificate (same name and the
 * same key as the verified CRL issuer), the PCK must not be on it, and that CA must not be on the
 * Root CA CRL. `pckChain` is [PCK, PCK CA, …] as carried by the quote, already chain-verified.
 */
export function checkPckRevocation(v: VerifiedCollateral, pckChain: readonly X509Certificate[]): void {
  const pck = pckChain[0];
  const pckCa = pckChain[1];
  if (!pck || !pckCa) fail('INVALID_ARGUMENT', 'checkPckRevocation needs [PCK, PCK CA, …]');
  const sameCa =
    bytesEqual(v.pckCrl.issuerNameDer, subjectNameDer(pckCa)) &&
    bytesEqual(
      new Uint8Array(pckCa.publicKey.export({ type: 'spki', format: 'der' })),
      new Uint8Array(v.pckCrlIssuer.publicKey.export({ type: 'spki', format: 'der' })),
    ) &&
    pck.checkIssued(pckCa);
  if (!sameCa) {
    fail(
      'CRL_INVALID',
      `PCK CRL was issued by ${commonName(v.pckCrlIssuer)} but the PCK certificate by ${commonName(pckCa)}`,
      { crlIssuer: commonName(v.pckCrlIssuer), pckIssuer: commonName(pckCa) },
    );
  }
  if (isRevoked(v.pckCrl, pck)) {
    fail('CERT_REVOKED', `PCK certificate (serial ${pck.serialNumber}) is revoked by the PCK CRL`, {
      what: 'PCK certificate',
      serial: pck.serialNumber,
    });
  }
  checkNotRevoked(v.rootCaCrl, pckCa, 'PCK issuing CA');
  const root = pckChain[pckChain.length - 1]!;
  if (pckChain.length >= 3 && !bytesEqual(v.rootCaCrl.issuerNameDer, subjectNameDer(root))) {
    fail('CRL_INVALID', `the Root CA CRL was not issued by the PCK chain's root ${commonName(root)}`, {
      pckRoot: commonName(root),
    });
  }
}

/** SHA-256 over everything the collateral carries (for logs and caches). */
export function collateralDigest(c: IntelCollateral): string {
  return sha256Hex(
    c.tcbInfo.text,
    c.tcbInfo.signature,
    c.tcbInfo.issuerChain,
    c.qeIdentity.text,
    c.qeIdentity.signature,
    c.qeIdentity.issuerChain,
    c.pckCrl,
    c.pckCrlIssuerChain,
    c.rootCaCrl,
  );
}

export type { QeIdentity, TcbInfo };

/** Serialises collateral as dcap-qvl's QuoteCollateralV3 JSON (the inverse of `parseCollateralJson`). */
export function collateralToJson(c: IntelCollateral): string {
  const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  return `${JSON.stringify(
    {
      tcb_info_issuer_chain: c.tcbInfo.issuerChain,
      tcb_info: c.tcbInfo.text,
      tcb_info_signature: hex(c.tcbInfo.signature),
      qe_identity_issuer_chain: c.qeIdentity.issuerChain,
      qe_identity: c.qeIdentity.text,
      qe_identity_signature: hex(c.qeIdentity.signature),
      pck_crl_issuer_chain: c.pckCrlIssuerChain,
      pck_crl: hex(c.pckCrl),
      root_ca_crl: hex(c.rootCaCrl),
    },
    null,
    2,
  )}\n`;
}

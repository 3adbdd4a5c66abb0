import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { bytesEqual, concatBytes, isAllZero, toHex } from '../bytes.js';
import type { VerifyCache } from '../cache.js';
import { type AttestationError, fail, isAttestationError } from '../errors.js';
import type { Measurements, VerifiedSgx, VerifiedTdx } from '../evidence.js';
import { DEFAULT_TRUST_ROOTS, type TrustRoots } from '../roots.js';
import { commonName, isRevoked, type PemMemo } from '../x509.js';
import { verifyCollateral } from './collateral.js';
import { type VerifiedPckChain, verifyPckChain } from './pck.js';
import { type IntelQuote, parseQuote, type SgxQuote, type TdxQuote } from './quote.js';
import { assessIntelTcb } from './tcb-status.js';
import type { IntelCollateral, VerifiedCollateral } from './types.js';

/*
 * Verify stage of Intel DCAP quotes (SGX v3, TDX v4/v5), in the order of Intel's QVL
 * (QuoteVerifier::verify, "Intel SGX/TDX DCAP Quote Verification Library" §4.1.2.4):
 *  1. PCK certificate chain (PCK → PCK Platform/Processor CA → pinned Intel SGX Root CA);
 *  2. collateral: TCB Info, QE Identity, CRLs (signatures, chains, windows) — collateral.ts;
 *  3. PCK CRL issued by the PCK's CA; PCK not revoked; PCK CA not revoked by the Root CA CRL;
 *  4. QE report signed by the PCK key (ECDSA P-256 / SHA-256 over the 384 report bytes);
 *  5. QE REPORTDATA = SHA-256(attestation key ‖ QE authentication data) ‖ 32 zero bytes;
 *  6. quote signed by the attestation key (over header ‖ body, i.e. `signedData`);
 *  7. TCB status: PCK TCB vs TCB Info, QE report vs QE Identity, TDX module — tcb-status.ts.
 * Each failure has its own error code, so the mutation tests can pin which check rejected what.
 */

export interface VerifyQuoteOptions {
  /** Verification time: certificate, CRL and collateral windows are judged at it. */
  readonly now: Date;
  /** Roots of trust; the production Intel SGX Root CA pin by default. */
  readonly roots?: TrustRoots;
  /**
   * Memo for time-independent results: the PCK chain signatures (keyed by SHA-256 of its PEM bytes),
   * the QE report signature (keyed by SHA-256 of report, signature and PCK) and the collateral
   * signatures. Windows and revocation are evaluated on every call.
   */
  readonly cache?: VerifyCache;
}

/**
 * Verifies an Intel SGX (v3) or TDX (v4/v5) quote against its collateral at `opts.now`. The result says
 * what the evidence is; whether to accept it (debug, TCB status, measurements) is the policy's job.
 * Accepts the raw bytes or a parsed quote (its `raw` bytes are what `evidenceHash` covers).
 */
export function verifyQuote(
  quote: Uint8Array | IntelQuote,
  collateral: IntelCollateral,
  opts: VerifyQuoteOptions,
): VerifiedTdx | VerifiedSgx {
  if (!opts || !(opts.now instanceof Date) || Number.isNaN(opts.now.getTime())) {
    fail('INVALID_ARGUMENT', 'verifyQuote: `now` must be a valid Date');
  }
  const q = quote instanceof Uint8Array ? parseQuote(quote) : quote;
  const roots = opts.roots ?? DEFAULT_TRUST_ROOTS;
  const { now, cache } = opts;
  // Certificates parsed in this call, by PEM block: the Intel SGX Root CA, for one, is in the PCK chain
  // and in every collateral issuer chain, and the PCK CA is usually also the PCK CRL issuer.
  const pemMemo: PemMemo = new Map();

  // 1. PCK chain.
  const chain = verifyPckChain(q.pckCertChain, { now, pinnedRoots: roots.intel, cache, pemMemo });
  // 2. Collateral.
  const collateralOpts = { now, roots, pemMemo, ...(cache ? { cache } : {}) };
  const vc = verifyCollateral(collateral, collateralOpts);
  // 3. Revocation of the PCK chain.
  checkPckChainRevocation(chain, vc);
  // 4–6. QE report and quote signatures.
  verifyQeReport(q, chain, cache);
  verifyQuoteSignature(q, cache);
  // 7. TCB status.
  const tcb = assessIntelTcb(q, chain.extensions, vc);

  const common = {
    evidenceHash: sha256(q.raw),
    tcbStatus: tcb.tcbStatus,
    advisoryIds: tcb.advisoryIds,
    // Copies: the chain (and its extensions) may be shared through the cache.
    ppid: chain.extensions.ppid.slice(),
    fmspc: chain.extensions.fmspc.slice(),
    collateralIssuedAt: vc.issuedAt,
  };
  if (q.tee === 'sgx') {
    return {
      ...common,
      tee: 'sgx',
      quoteVersion: 3,
      measurements: sgxMeasurements(q),
      reportData: q.body.reportData,
      // SGX ATTRIBUTES.DEBUG is bit 1 of the first byte (Intel SDM vol. 3D, table 38-4).
      debug: (q.body.attributes[0]! & 0x02) !== 0,
      isvProdId: q.body.isvProdId,
      isvSvn: q.body.isvSvn,
    };
  }
  return {
    ...common,
    tee: 'tdx',
    quoteVersion: q.version,
    measurements: tdxMeasurements(q),
    reportData: q.body.reportData,
    // TDATTRIBUTES.DEBUG is bit 0 (Intel TDX module ABI spec, table "TD Attributes Definition").
    debug: (q.body.tdAttributes[0]! & 0x01) !== 0,
    tdAttributes: q.body.tdAttributes,
  };
}

/** `verifyQuote` as a result instead of an exception (AttestationErrors only; other errors are bugs and throw). */
export function tryVerifyQuote(
  quote: Uint8Array | IntelQuote,
  collateral: IntelCollateral,
  opts: VerifyQuoteOptions,
): { ok: true; value: VerifiedTdx | VerifiedSgx } | { ok: false; error: AttestationError } {
  try {
    return { ok: true, value: verifyQuote(quote, collateral, opts) };
  } catch (e) {
    if (isAttestationError(e)) return { ok: false, error: e };
    throw e;
  }
}

/**
 * Step 3 (Intel QVL QuoteVerifier::verify 4.1.2.4.6-7): the PCK CRL was issued by the CA that issued
 * the PCK (same subject name and same key as the CRL's verified issuer), the PCK is not on it, and that
 * CA is not on the Root CA CRL. Same rule as collateral.ts `checkPckRevocation`, without its per-call
 * DER re-parsing and key exports (≈0.25 ms): the names come from the verified chain, and the keys are
 * compared only when the two CA certificates are not byte-identical.
 */
export function checkPckChainRevocation(chain: VerifiedPckChain, vc: VerifiedCollateral): void {
  const sameCa =
    bytesEqual(vc.pckCrl.issuerNameDer, chain.pckCaNameDer) &&
    (bytesEqual(new Uint8Array(vc.pckCrlIssuer.raw), new Uint8Array(chain.pckCa.raw)) ||
      bytesEqual(spki(vc.pckCrlIssuer.publicKey), spki(chain.pckCa.publicKey)));
  if (!sameCa) {
    fail(
      'CRL_INVALID',
      `PCK CRL was issued by ${commonName(vc.pckCrlIssuer)} but the PCK certificate by ${commonName(chain.pckCa)}`,
      { crlIssuer: commonName(vc.pckCrlIssuer), pckIssuer: commonName(chain.pckCa) },
    );
  }
  if (isRevoked(vc.pckCrl, chain.pck)) {
    fail('CERT_REVOKED', `PCK certificate (serial ${chain.pck.serialNumber}) is revoked by the PCK CRL`, {
      what: 'PCK certificate',
      serial: chain.pck.serialNumber,
    });
  }
  if (isRevoked(vc.rootCaCrl, chain.pckCa)) {
    fail(
      'CERT_REVOKED',
      `PCK issuing CA (serial ${chain.pckCa.serialNumber}) is revoked by the Intel SGX Root CA CRL`,
      {
        what: 'PCK issuing CA',
        serial: chain.pckCa.serialNumber,
      },
    );
  }
  if (!bytesEqual(vc.rootCaCrl.issuerNameDer, chain.rootNameDer)) {
    fail('CRL_INVALID', 'the Root CA CRL was not issued by the root of the PCK certificate chain');
  }
}

function spki(k: KeyObject): Uint8Array {
  return new Uint8Array(k.export({ type: 'spki', format: 'der' }));
}

/** Steps 4 and 5: the QE report is genuine (PCK signature) and binds the attestation key. */
export function verifyQeReport(q: IntelQuote, chain: VerifiedPckChain, cache?: VerifyCache): void {
  const key = cache
    ? `intel-qe-report:${toHex(sha256(concatBytes(q.qeReport.raw, q.qeReportSignature, new Uint8Array(chain.pck.raw))))}`
    : undefined;
  if (!(key && cache?.get<boolean>(key) === true)) {
    if (!verifyP256(q.qeReport.raw, q.qeReportSignature, chain.pck.publicKey)) {
      fail(
        'QE_REPORT_SIGNATURE_INVALID',
        'the QE report signature does not verify with the PCK certificate key',
      );
    }
    if (key) cache?.set(key, true);
  }
  // [TDX] "QE Report Certification Data" / [SGX] "Quote Signature Data Structure": QE REPORTDATA = SHA-256(attestation key ‖ QE auth data) ‖ 0^32.
  const expected = sha256(concatBytes(q.attestationKey, q.qeAuthData));
  const rd = q.qeReport.reportData;
  if (!bytesEqual(rd.subarray(0, 32), expected) || !isAllZero(rd.subarray(32, 64))) {
    fail(
      'QE_REPORT_DATA_MISMATCH',
      'QE REPORTDATA does not commit to the attestation key and QE authentication data',
      {
        expected: toHex(expected),
        actual: toHex(rd.subarray(0, 32)),
      },
    );
  }
}

/**
 * Step 6: the attestation key signed header ‖ body. The key object is memoised by its 64 bytes (one
 * attestation key serves every quote of a QE instance); the signature itself is checked every time.
 */
export function verifyQuoteSignature(q: IntelQuote, cache?: VerifyCache): void {
  const cacheKey = cache ? `intel-attestation-key:${toHex(q.attestationKey)}` : undefined;
  let key = cacheKey ? cache?.get<KeyObject>(cacheKey) : undefined;
  if (!key) {
    key = attestationKeyObject(q.attestationKey);
    if (key && cacheKey) cache?.set(cacheKey, key);
  }
  if (!key || !verifyP256(q.signedData, q.signature, key)) {
    fail('QUOTE_SIGNATURE_INVALID', 'the quote signature does not verify with the attestation key');
  }
}

// SubjectPublicKeyInfo prefix for an uncompressed P-256 point (RFC 5480 §2): SEQUENCE { SEQUENCE {
// id-ecPublicKey, prime256v1 }, BIT STRING 0x00 0x04 ‖ x ‖ y }.
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200' + '04', 'hex');

function attestationKeyObject(xy: Uint8Array): KeyObject | undefined {
  if (xy.length !== 64) return undefined;
  try {
    return createPublicKey({ key: Buffer.concat([P256_SPKI_PREFIX, xy]), format: 'der', type: 'spki' });
  } catch {
    return undefined; // not a point on P-256
  }
}

/**
 * ECDSA P-256 / SHA-256, raw r‖s. OpenSSL accepts high-S signatures, which real quotes carry about half
 * of the time (Intel's QE does not normalise S).
 */
function verifyP256(data: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  if (signature.length !== 64) return false;
  try {
    return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest());
}

function tdxMeasurements(q: TdxQuote): Measurements {
  const b = q.body;
  const m: Record<string, Uint8Array> = {
    mrTd: b.mrTd,
    rtmr0: b.rtmr[0],
    rtmr1: b.rtmr[1],
    rtmr2: b.rtmr[2],
    rtmr3: b.rtmr[3],
    mrConfigId: b.mrConfigId,
    mrOwner: b.mrOwner,
    mrOwnerConfig: b.mrOwnerConfig,
    xfam: b.xfam,
    tdAttributes: b.tdAttributes,
    mrSeam: b.mrSeam,
    mrSignerSeam: b.mrSignerSeam,
    seamAttributes: b.seamAttributes,
    teeTcbSvn: b.teeTcbSvn,
  };
  if (b.mrServiceTd) m.mrServiceTd = b.mrServiceTd;
  if (b.teeTcbSvn2) m.teeTcbSvn2 = b.teeTcbSvn2;
  return m;
}

function sgxMeasurements(q: SgxQuote): Measurements {
  return { mrEnclave: q.body.mrEnclave, mrSigner: q.body.mrSigner, attributes: q.body.attributes };
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  readVector,
  readVectorText,
  VECTORS,
  type VectorIndexEntry,
  vectorIndex,
} from '../../test/vectors.js';
import { concatBytes } from '../bytes.js';
import { VerifyCache } from '../cache.js';
import { DER, readChildren, readWhole } from '../der.js';
import { type AttestationErrorCode, isAttestationError } from '../errors.js';
import { parseCollateralJson } from './collateral.js';
import { parseQuote } from './quote.js';
import type { IntelCollateral } from './types.js';
import { verifyQuote } from './verify-quote.js';

/*
 * A mutation corpus generated from the real vectors: every mutation names the exact error it must
 * raise, and none may be accepted. Bases are the vectors that verify (all but the `reject` ones).
 * Where a mutation lands in the signed header/body, the quote signature catches it; in the QE report,
 * the PCK signature; in the attestation key or QE authentication data, the QE REPORTDATA binding; in the
 * PCK chain, the chain verification; in the collateral, its own signature or CRL checks.
 */

interface Mutation {
  readonly name: string;
  readonly quote?: Uint8Array;
  readonly collateral?: IntelCollateral;
  readonly now?: Date;
  readonly code: AttestationErrorCode;
}

function flip(b: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const out = b.slice();
  out[at] = out[at]! ^ mask;
  return out;
}

function setU32(b: Uint8Array, at: number, v: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, v, true);
}

function getU32(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
}

/** The quote with another PCK certification data payload; the three enclosing sizes are fixed up. */
function withPckChain(raw: Uint8Array, pem: Uint8Array): Uint8Array {
  const q = parseQuote(raw);
  const L = q.layout;
  const delta = pem.length - q.pckCertChain.length;
  const out = concatBytes(raw.subarray(0, L.pckChainOffset), pem, raw.subarray(L.end));
  setU32(out, L.pckCertDataOffset + 2, pem.length);
  setU32(out, L.signatureDataLenOffset, getU32(raw, L.signatureDataLenOffset) + delta);
  if (L.outerCertDataOffset !== undefined) {
    setU32(out, L.outerCertDataOffset + 2, getU32(raw, L.outerCertDataOffset + 2) + delta);
  }
  return out;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function pemBlocks(chain: Uint8Array): string[] {
  return Buffer.from(chain).toString('latin1').match(PEM_BLOCK) ?? [];
}

function derOf(block: string): Uint8Array {
  return new Uint8Array(Buffer.from(block.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64'));
}

function pemOf(der: Uint8Array): string {
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.trimEnd()}\n-----END CERTIFICATE-----`;
}

function chainPem(blocks: readonly string[]): Uint8Array {
  return new TextEncoder().encode(`${blocks.join('\n')}\n\0`);
}

/** Offsets of the serial number's last byte and of the signature's last byte in a certificate. */
function certSpots(der: Uint8Array): { serial: number; signature: number } {
  const cert = readWhole(der, DER.SEQUENCE, 'CERT_MALFORMED', 'cert');
  const [tbs] = readChildren(cert.content, 'CERT_MALFORMED', 'cert');
  const fields = readChildren(tbs!.content, 'CERT_MALFORMED', 'tbs');
  const serial = fields[0]!.tag === 0xa0 ? fields[1]! : fields[0]!;
  return { serial: cert.contentStart + tbs!.contentStart + serial.end - 1, signature: der.length - 1 };
}

/** Offset of the last digit of the first UTCTime (thisUpdate) in a CRL. */
function crlTimeDigit(der: Uint8Array): number {
  for (let i = 0; i + 14 < der.length; i++) if (der[i] === 0x17 && der[i + 1] === 0x0d) return i + 2 + 11;
  throw new Error('no UTCTime in CRL');
}

function bumpNumber(text: string, key: string): string {
  const re = new RegExp(`"${key}":(\\d+)`);
  const m = re.exec(text);
  if (!m) throw new Error(`no ${key}`);
  return text.replace(re, `"${key}":${Number(m[1]) + 1}`);
}

function quoteMutations(raw: Uint8Array): Mutation[] {
  const q = parseQuote(raw);
  const L = q.layout;
  const m: Mutation[] = [];
  const add = (name: string, quote: Uint8Array, code: AttestationErrorCode) => m.push({ name, quote, code });

  // Header ([TDX] table 3 / [SGX] table A.4).
  add('header: version bit', flip(raw, 0, 0x08), 'QUOTE_UNSUPPORTED_VERSION');
  add('header: attestation key type bit', flip(raw, 2, 0x01), 'QUOTE_UNSUPPORTED_KEY_TYPE');
  add('header: TEE type bit', flip(raw, 4, 0x02), 'QUOTE_UNSUPPORTED_TEE_TYPE');
  add('header: QE SVN / reserved bit', flip(raw, 8, 0x01), 'QUOTE_SIGNATURE_INVALID');
  add('header: PCE SVN / reserved bit', flip(raw, 10, 0x80), 'QUOTE_SIGNATURE_INVALID');
  add('header: QE vendor id bit', flip(raw, 12, 0x01), 'QUOTE_BAD_FIELD');
  add('header: user data bit', flip(raw, 47, 0x80), 'QUOTE_SIGNATURE_INVALID');

  // Body.
  const body = L.bodyOffset + (q.version === 5 ? 6 : 0);
  if (q.version === 5) {
    add('v5 body descriptor: type bit', flip(raw, L.bodyOffset, 0x04), 'QUOTE_BAD_FIELD');
    add('v5 body descriptor: size bit', flip(raw, L.bodyOffset + 2, 0x01), 'QUOTE_BAD_FIELD');
  }
  const bodyEnd = L.signatureDataLenOffset;
  for (const [name, off] of [
    ['first byte', 0],
    ['TDATTRIBUTES / ATTRIBUTES', q.tee === 'tdx' ? 120 : 48],
    ['MRTD / MRENCLAVE', q.tee === 'tdx' ? 136 : 64],
    ['last byte (REPORTDATA)', bodyEnd - body - 1],
  ] as const) {
    add(`body: ${name} bit`, flip(raw, body + off, 0x01), 'QUOTE_SIGNATURE_INVALID');
  }

  // Signature data ([TDX] table 5 / [SGX] table A.6).
  add('quote signature: r bit', flip(raw, L.signatureOffset, 0x01), 'QUOTE_SIGNATURE_INVALID');
  add('quote signature: s bit', flip(raw, L.signatureOffset + 63, 0x01), 'QUOTE_SIGNATURE_INVALID');
  add('attestation key: x bit', flip(raw, L.attestationKeyOffset, 0x01), 'QE_REPORT_DATA_MISMATCH');
  add('attestation key: y bit', flip(raw, L.attestationKeyOffset + 63, 0x01), 'QE_REPORT_DATA_MISMATCH');
  for (const [name, off] of [
    ['CPUSVN', 0],
    ['ATTRIBUTES', 48],
    ['MRENCLAVE', 64],
    ['MRSIGNER', 128],
    ['ISVSVN', 258],
    ['REPORTDATA', 320],
    ['REPORTDATA upper half', 383],
  ] as const) {
    add(`QE report: ${name} bit`, flip(raw, L.qeReportOffset + off, 0x01), 'QE_REPORT_SIGNATURE_INVALID');
  }
  add(
    'QE report signature: r bit',
    flip(raw, L.qeReportSignatureOffset, 0x01),
    'QE_REPORT_SIGNATURE_INVALID',
  );
  add(
    'QE report signature: s bit',
    flip(raw, L.qeReportSignatureOffset + 63, 0x01),
    'QE_REPORT_SIGNATURE_INVALID',
  );
  add('QE auth data: first byte bit', flip(raw, L.qeAuthDataOffset + 2, 0x01), 'QE_REPORT_DATA_MISMATCH');
  add('QE auth data: last byte bit', flip(raw, L.pckCertDataOffset - 1, 0x80), 'QE_REPORT_DATA_MISMATCH');
  add('QE auth data: size bit', flip(raw, L.qeAuthDataOffset, 0x01), 'QUOTE_UNSUPPORTED_CERT_DATA');
  add('PCK cert data type bit', flip(raw, L.pckCertDataOffset, 0x02), 'QUOTE_UNSUPPORTED_CERT_DATA');
  if (L.outerCertDataOffset !== undefined) {
    add('outer cert data type bit', flip(raw, L.outerCertDataOffset, 0x01), 'QUOTE_UNSUPPORTED_CERT_DATA');
  }
  add('signature data length: high bit', flip(raw, L.signatureDataLenOffset + 3, 0x80), 'QUOTE_TRUNCATED');

  // Truncations at every structure boundary (and one byte into each part).
  const bounds = [
    0,
    2,
    4,
    8,
    12,
    28,
    48,
    L.bodyOffset,
    ...(q.version === 5 ? [L.bodyOffset + 2, L.bodyOffset + 6] : []),
    L.signatureDataLenOffset,
    L.signatureDataOffset,
    L.attestationKeyOffset,
    ...(L.outerCertDataOffset !== undefined ? [L.outerCertDataOffset, L.outerCertDataOffset + 2] : []),
    L.qeReportOffset,
    L.qeReportSignatureOffset,
    L.qeAuthDataOffset,
    L.qeAuthDataOffset + 2,
    L.pckCertDataOffset,
    L.pckCertDataOffset + 2,
    L.pckChainOffset,
    L.end - 1,
  ];
  for (const n of new Set(bounds)) {
    add(`truncated at ${n}`, raw.slice(0, n), 'QUOTE_TRUNCATED');
    if (n + 1 < L.end) add(`truncated at ${n} + 1`, raw.slice(0, n + 1), 'QUOTE_TRUNCATED');
  }

  // The PCK certificate chain, as DER bit flips re-encoded to PEM, and swaps.
  const blocks = pemBlocks(q.pckCertChain);
  ['PCK', 'PCK CA', 'Root CA'].forEach((who, i) => {
    const der = derOf(blocks[i]!);
    const spots = certSpots(der);
    for (const [part, at] of [
      ['serial (TBS)', spots.serial],
      ['signature', spots.signature],
    ] as const) {
      const b = [...blocks];
      b[i] = pemOf(flip(der, at, 0x01));
      add(`${who} certificate: ${part} bit`, withPckChain(raw, chainPem(b)), 'CERT_CHAIN_INVALID');
    }
  });
  const [pck, ca, root] = blocks as [string, string, string];
  add('chain: PCK and PCK CA swapped', withPckChain(raw, chainPem([ca, pck, root])), 'CERT_CHAIN_INVALID');
  add('chain: PCK CA and root swapped', withPckChain(raw, chainPem([pck, root, ca])), 'CERT_CHAIN_INVALID');
  add('chain: root missing', withPckChain(raw, chainPem([pck, ca])), 'CERT_CHAIN_INVALID');
  add('chain: PCK missing', withPckChain(raw, chainPem([ca, root])), 'CERT_CHAIN_INVALID');
  add('chain: PCK twice', withPckChain(raw, chainPem([pck, pck, ca, root])), 'CERT_CHAIN_INVALID');
  add('chain: empty', withPckChain(raw, new Uint8Array()), 'CERT_MALFORMED');
  return m;
}

function collateralMutations(c: IntelCollateral): Mutation[] {
  const m: Mutation[] = [];
  const add = (name: string, collateral: IntelCollateral, code: AttestationErrorCode) =>
    m.push({ name, collateral, code });
  add(
    'TCB Info: text changed (tcbEvaluationDataNumber + 1)',
    { ...c, tcbInfo: { ...c.tcbInfo, text: bumpNumber(c.tcbInfo.text, 'tcbEvaluationDataNumber') } },
    'TCB_INFO_SIGNATURE_INVALID',
  );
  add(
    'TCB Info: text changed (a space added)',
    { ...c, tcbInfo: { ...c.tcbInfo, text: c.tcbInfo.text.replace('{', '{ ') } },
    'TCB_INFO_SIGNATURE_INVALID',
  );
  add(
    'TCB Info: signature r bit',
    { ...c, tcbInfo: { ...c.tcbInfo, signature: flip(c.tcbInfo.signature, 0) } },
    'TCB_INFO_SIGNATURE_INVALID',
  );
  add(
    'TCB Info: signature s bit',
    { ...c, tcbInfo: { ...c.tcbInfo, signature: flip(c.tcbInfo.signature, 63) } },
    'TCB_INFO_SIGNATURE_INVALID',
  );
  add(
    'TCB Info: not JSON',
    { ...c, tcbInfo: { ...c.tcbInfo, text: c.tcbInfo.text.slice(0, -1) } },
    'COLLATERAL_MALFORMED',
  );
  add(
    'QE Identity: text changed (tcbEvaluationDataNumber + 1)',
    { ...c, qeIdentity: { ...c.qeIdentity, text: bumpNumber(c.qeIdentity.text, 'tcbEvaluationDataNumber') } },
    'QE_IDENTITY_SIGNATURE_INVALID',
  );
  add(
    'QE Identity: signature s bit',
    { ...c, qeIdentity: { ...c.qeIdentity, signature: flip(c.qeIdentity.signature, 63) } },
    'QE_IDENTITY_SIGNATURE_INVALID',
  );
  add('PCK CRL: signature bit', { ...c, pckCrl: flip(c.pckCrl, c.pckCrl.length - 1) }, 'CRL_INVALID');
  add(
    'PCK CRL: thisUpdate digit bit',
    { ...c, pckCrl: flip(c.pckCrl, crlTimeDigit(c.pckCrl)) },
    'CRL_INVALID',
  );
  add(
    'Root CA CRL: signature bit',
    { ...c, rootCaCrl: flip(c.rootCaCrl, c.rootCaCrl.length - 1) },
    'CRL_INVALID',
  );
  add(
    'Root CA CRL: thisUpdate digit bit',
    { ...c, rootCaCrl: flip(c.rootCaCrl, crlTimeDigit(c.rootCaCrl)) },
    'CRL_INVALID',
  );
  add('CRLs swapped', { ...c, pckCrl: c.rootCaCrl, rootCaCrl: c.pckCrl }, 'CRL_INVALID');
  const [signing, root] = c.tcbInfo.issuerChain.match(PEM_BLOCK)!;
  add(
    'TCB Info issuer chain reversed',
    { ...c, tcbInfo: { ...c.tcbInfo, issuerChain: `${root}\n${signing}\n` } },
    'CERT_CHAIN_INVALID',
  );
  add(
    'TCB Info signed text swapped with QE Identity',
    { ...c, tcbInfo: { ...c.tcbInfo, text: c.qeIdentity.text, signature: c.qeIdentity.signature } },
    'COLLATERAL_MALFORMED',
  );
  return m;
}

function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ACCEPTED';
  } catch (e) {
    if (isAttestationError(e)) return e.code;
    throw e;
  }
}

describe.skipIf(!VECTORS)('mutation corpus from the hardware vectors', () => {
  const index = VECTORS ? vectorIndex() : { tdx: [], sgx: [] };
  const bases: VectorIndexEntry[] = [...index.tdx, ...index.sgx].filter(
    (v) => (v.expected as { verdict: string }).verdict !== 'reject',
  );

  it.each(bases.map((v) => [v.id, v] as const))(
    '%s: every quote and collateral mutation is rejected with its code',
    (_id, v) => {
      const raw = readVector(v.quote as string);
      const collateral = parseCollateralJson(readVectorText(v.collateral_json as string));
      const now = new Date(v.verify_at);
      const cache = new VerifyCache(); // shared: a warm cache must reject the same way
      expect(outcome(() => verifyQuote(raw, collateral, { now, cache }))).toBe('ACCEPTED');
      const corpus = [...quoteMutations(raw), ...collateralMutations(collateral)];
      const wrong: string[] = [];
      for (const mu of corpus) {
        const got = outcome(() =>
          verifyQuote(mu.quote ?? raw, mu.collateral ?? collateral, { now: mu.now ?? now, cache }),
        );
        if (got !== mu.code) wrong.push(`${mu.name}: expected ${mu.code}, got ${got}`);
      }
      expect(wrong).toEqual([]);
      expect(corpus.length).toBeGreaterThan(70);
    },
  );

  it('collateral for another platform (FMSPC) is TCB_INFO_MISMATCH', () => {
    const q = bases.find((v) => v.id === 'v4-phala-b0c06f-uptodate')!;
    const c = [...index.tdx].find((v) => v.id === 'v4-automata-00806f05-outofdate')!;
    const raw = readVector(q.quote as string);
    const other = parseCollateralJson(readVectorText(c.collateral_json as string));
    expect(outcome(() => verifyQuote(raw, other, { now: new Date('2025-07-01T00:00:00Z') }))).toBe(
      'TCB_INFO_MISMATCH',
    );
  });

  it('a PCK chain from another platform (same CA) fails the QE report signature', () => {
    const a = bases.find((v) => v.id === 'v4-gcp-00806f05-uptodate')!;
    const b = bases.find((v) => v.id === 'v4-cos-00806f05-module-index-skip')!;
    const rawA = readVector(a.quote as string);
    const chainB = parseQuote(readVector(b.quote as string)).pckCertChain;
    const collateral = parseCollateralJson(readVectorText(a.collateral_json as string));
    expect(
      outcome(() => verifyQuote(withPckChain(rawA, chainB), collateral, { now: new Date(a.verify_at) })),
    ).toBe('QE_REPORT_SIGNATURE_INVALID');
  });

  it('an SGX quote with TDX collateral is rejected (and the reverse)', () => {
    const sgx = bases.find((v) => v.id.startsWith('v3-phala'))!;
    const tdx = bases.find((v) => v.id === 'v4-phala-b0c06f-uptodate')!;
    const sgxRaw = readVector(sgx.quote as string);
    const tdxCol = parseCollateralJson(readVectorText(tdx.collateral_json as string));
    // Same window (2025-07-01); the SGX PCK comes from the Processor CA, the TDX CRL from the Platform CA.
    expect(outcome(() => verifyQuote(sgxRaw, tdxCol, { now: new Date('2025-07-01T00:00:00Z') }))).toBe(
      'CRL_INVALID',
    );
  });

  it('ECDSA malleability: s → n − s verifies (documented exception, not a forgery)', () => {
    // Both (r, s) and (r, n − s) are valid ECDSA signatures of the same message. Real quotes carry high-S
    // signatures about half of the time, so neither form can be refused (Intel QVL accepts both). The
    // meaning is unchanged, but the bytes — and so evidenceHash — differ: evidenceHash identifies the
    // bytes presented, not the attestation.
    const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const v = bases.find((b) => b.id === 'v4-phala-b0c06f-uptodate')!;
    const raw = readVector(v.quote as string);
    const collateral = parseCollateralJson(readVectorText(v.collateral_json as string));
    const now = new Date(v.verify_at);
    const q = parseQuote(raw);
    const highS = [...index.tdx, ...index.sgx].filter((e) => {
      const p = parseQuote(readVector(e.quote as string));
      return [p.signature, p.qeReportSignature].some(
        (sig) => BigInt(`0x${Buffer.from(sig.subarray(32)).toString('hex')}`) > n / 2n,
      );
    });
    expect(highS.length).toBeGreaterThan(5); // and every one of them verifies in verify-quote.test.ts
    for (const at of [q.layout.signatureOffset, q.layout.qeReportSignatureOffset]) {
      const s = BigInt(`0x${Buffer.from(raw.subarray(at + 32, at + 64)).toString('hex')}`);
      const m = raw.slice();
      m.set(Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex'), at + 32);
      const r = verifyQuote(m, collateral, { now });
      expect(r.tcbStatus).toBe('UpToDate');
      expect(r.evidenceHash).not.toEqual(verifyQuote(raw, collateral, { now }).evidenceHash);
    }
  });

  it('unsigned bytes: trailing padding may change (documented exception)', () => {
    const v = bases.find((b) => b.id === 'v4-phala-b0c06f-uptodate')!;
    const raw = readVector(v.quote as string);
    const collateral = parseCollateralJson(readVectorText(v.collateral_json as string));
    const end = parseQuote(raw).layout.end;
    expect(raw.length).toBeGreaterThan(end);
    const r = verifyQuote(flip(raw, raw.length - 1, 0xff), collateral, { now: new Date(v.verify_at) });
    expect(r.tcbStatus).toBe('UpToDate');
  });

  it('property: any bit flip before the PCK chain is rejected', () => {
    const raws = bases.map((v) => ({
      raw: readVector(v.quote as string),
      collateral: parseCollateralJson(readVectorText(v.collateral_json as string)),
      now: new Date(v.verify_at),
      cache: new VerifyCache(),
    }));
    fc.assert(
      fc.property(fc.nat(raws.length - 1), fc.nat(), fc.integer({ min: 0, max: 7 }), (k, pos, bit) => {
        const b = raws[k]!;
        const limit = parseQuote(b.raw).layout.pckChainOffset;
        const got = outcome(() =>
          verifyQuote(flip(b.raw, pos % limit, 1 << bit), b.collateral, { now: b.now, cache: b.cache }),
        );
        expect(got).not.toBe('ACCEPTED');
      }),
      { numRuns: 400 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/error-code.js';
import { readVector, VECTORS, type VectorIndexEntry, vectorIndex } from '../../test/vectors.js';
import { toHex } from '../bytes.js';
import { isAttestationError } from '../errors.js';
import { INTEL_QE_VENDOR_ID, type IntelQuote, parseQuote } from './quote.js';

/** The error code `fn` throws (fails the test when it throws something else or nothing). */

function patch(raw: Uint8Array, at: number, bytes: number[]): Uint8Array {
  const out = raw.slice();
  out.set(bytes, at);
  return out;
}

function u16(v: number): number[] {
  return [v & 0xff, v >> 8];
}

function u32(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

describe.skipIf(!VECTORS)('parseQuote on the hardware vectors', () => {
  const index = VECTORS ? vectorIndex() : { tdx: [], sgx: [] };
  const all: VectorIndexEntry[] = [...index.tdx, ...index.sgx];

  it.each(all.map((v) => [v.id, v] as const))('%s: layout and fields match the index facts', (_id, v) => {
    const f = v.facts as Record<string, unknown>;
    const raw = readVector(v.quote as string);
    const q = parseQuote(raw);
    expect(q.version).toBe(f.quote_version);
    expect(q.header.teeType).toBe(Number.parseInt(f.tee_type as string, 16));
    expect(q.signedData.length).toBe(f.signed_length);
    expect(q.layout.end).toBe(f.parsed_length);
    expect(q.trailing.length).toBe(f.trailing_bytes);
    expect(q.trailing.every((b) => b === 0)).toBe(f.trailing_all_zero);
    expect(q.certDataType).toBe(f.outer_cert_data_type);
    expect(q.qeAuthData.length).toBe(f.qe_auth_data_len);
    expect(q.qeReport.isvSvn).toBe(f.qe_isvsvn);
    expect(q.signature.length).toBe(64);
    expect(q.attestationKey.length).toBe(64);
    expect(Buffer.from(q.pckCertChain).toString('latin1')).toContain('-----BEGIN CERTIFICATE-----');
    if (q.tee === 'tdx') {
      expect(toHex(q.body.mrTd)).toBe(f.mr_td);
      expect(toHex(q.body.reportData)).toBe(f.report_data);
      expect(toHex(q.body.tdAttributes)).toBe(f.td_attributes);
      expect(toHex(q.body.teeTcbSvn)).toBe(f.tee_tcb_svn);
      expect(toHex(q.body.seamAttributes)).toBe(f.seam_attributes ?? toHex(q.body.seamAttributes));
      if (q.version === 5) {
        expect(q.bodyType).toBe(f.body_type);
        expect(q.body.teeTcbSvn2?.length).toBe(q.bodyType === 3 ? 16 : undefined);
      }
    } else {
      expect(toHex(q.body.attributes)).toBe(f.attributes);
      expect(toHex(q.body.mrEnclave)).toBe(f.mr_enclave);
      expect(toHex(q.body.mrSigner)).toBe(f.mr_signer);
      expect(toHex(q.body.reportData)).toBe(f.report_data);
    }
  });

  const tdxRaw = VECTORS ? readVector('tdx/quotes/v4-phala-b0c06f-uptodate.bin') : new Uint8Array();
  const v5Raw = VECTORS ? readVector('tdx/quotes/v5-gotdx-90c06f-uptodate.bin') : new Uint8Array();
  const sgxRaw = VECTORS
    ? readVector('sgx/quotes/v3-phala-00a067110000-config-swhardening.bin')
    : new Uint8Array();

  it('every prefix shorter than the parsed length ends in QUOTE_TRUNCATED', () => {
    for (const raw of [tdxRaw, v5Raw, sgxRaw]) {
      const end = parseQuote(raw).layout.end;
      for (let n = 0; n < end; n++) {
        const c = codeOf(() => parseQuote(raw.subarray(0, n)));
        if (c !== 'QUOTE_TRUNCATED') throw new Error(`prefix of ${n} bytes gave ${c}`);
      }
      // Exactly the parsed length is a complete quote without trailing bytes.
      expect(parseQuote(raw.subarray(0, end)).trailing.length).toBe(0);
    }
  });

  it('rejects unsupported header values with their own codes', () => {
    expect(codeOf(() => parseQuote(patch(tdxRaw, 0, u16(6))))).toBe('QUOTE_UNSUPPORTED_VERSION');
    expect(codeOf(() => parseQuote(patch(tdxRaw, 0, u16(3))))).toBe('QUOTE_UNSUPPORTED_VERSION');
    expect(codeOf(() => parseQuote(patch(sgxRaw, 0, u16(4))))).toBe('QUOTE_UNSUPPORTED_VERSION');
    expect(codeOf(() => parseQuote(patch(tdxRaw, 2, u16(3))))).toBe('QUOTE_UNSUPPORTED_KEY_TYPE');
    expect(codeOf(() => parseQuote(patch(tdxRaw, 4, u32(0x82))))).toBe('QUOTE_UNSUPPORTED_TEE_TYPE');
    expect(codeOf(() => parseQuote(patch(tdxRaw, 4, u32(0))))).toBe('QUOTE_UNSUPPORTED_VERSION');
  });

  it('checks the v5 body descriptor', () => {
    expect(codeOf(() => parseQuote(patch(v5Raw, 48, u16(1))))).toBe('QUOTE_BAD_FIELD');
    expect(codeOf(() => parseQuote(patch(v5Raw, 48, u16(2))))).toBe('QUOTE_BAD_FIELD'); // size still 648
    expect(codeOf(() => parseQuote(patch(v5Raw, 50, u32(584))))).toBe('QUOTE_BAD_FIELD');
  });

  it('checks certification data types and sizes', () => {
    const q = parseQuote(tdxRaw);
    const outer = q.layout.outerCertDataOffset!;
    expect(codeOf(() => parseQuote(patch(tdxRaw, outer, u16(5))))).toBe('QUOTE_UNSUPPORTED_CERT_DATA');
    expect(codeOf(() => parseQuote(patch(tdxRaw, q.layout.pckCertDataOffset, u16(4))))).toBe(
      'QUOTE_UNSUPPORTED_CERT_DATA',
    );
    const s = parseQuote(sgxRaw);
    expect(codeOf(() => parseQuote(patch(sgxRaw, s.layout.pckCertDataOffset, u16(1))))).toBe(
      'QUOTE_UNSUPPORTED_CERT_DATA',
    );
    const sigLen = q.layout.end - q.layout.signatureDataOffset;
    const lenAt = q.layout.signatureDataLenOffset;
    // Longer than the remaining input.
    expect(codeOf(() => parseQuote(patch(tdxRaw.subarray(0, q.layout.end), lenAt, u32(sigLen + 1))))).toBe(
      'QUOTE_TRUNCATED',
    );
    // Shorter than its content.
    expect(codeOf(() => parseQuote(patch(tdxRaw, lenAt, u32(sigLen - 1))))).toBe('QUOTE_TRUNCATED');
    // Longer than its content (the padding byte after it would be swallowed).
    expect(codeOf(() => parseQuote(patch(tdxRaw, lenAt, u32(sigLen + 1))))).toBe('QUOTE_BAD_FIELD');
    // Outer certification data size larger than its content.
    expect(codeOf(() => parseQuote(patch(tdxRaw, outer + 2, u32(sigLen - 128 - 6 - 1))))).toBe(
      'QUOTE_TRUNCATED',
    );
    // Huge sizes never allocate or wrap.
    expect(codeOf(() => parseQuote(patch(tdxRaw, lenAt, u32(0xffffffff))))).toBe('QUOTE_TRUNCATED');
    expect(codeOf(() => parseQuote(patch(tdxRaw, outer + 2, u32(0xffffffff))))).toBe('QUOTE_TRUNCATED');
    expect(codeOf(() => parseQuote(patch(tdxRaw, q.layout.qeAuthDataOffset, u16(0xffff))))).toBe(
      'QUOTE_TRUNCATED',
    );
  });

  it('keeps trailing bytes outside the signature data (zero padding, appended text)', () => {
    const q = parseQuote(readVector('tdx/quotes/v4-gotdx-50806f-tcb-not-supported.bin'));
    expect(Buffer.from(q.trailing).toString('latin1')).toContain('extra bytes');
  });

  // --- properties ---

  const isMalformed = (e: unknown) => isAttestationError(e) && e.kind === 'malformed';

  it('property: arbitrary bytes never crash the parser', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 2048 }), (bytes) => {
        try {
          parseQuote(bytes);
        } catch (e) {
          if (!isMalformed(e)) throw e;
        }
      }),
      { numRuns: 400 },
    );
  });

  it('property: a valid header followed by arbitrary bytes never crashes the parser', () => {
    const headers = [tdxRaw.subarray(0, 48), v5Raw.subarray(0, 54), sgxRaw.subarray(0, 48)];
    fc.assert(
      fc.property(fc.constantFrom(...headers), fc.uint8Array({ maxLength: 6000 }), (h, tail) => {
        const buf = new Uint8Array(h.length + tail.length);
        buf.set(h);
        buf.set(tail, h.length);
        try {
          parseQuote(buf);
        } catch (e) {
          if (!isMalformed(e)) throw e;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('property: random byte edits of a real quote parse or fail with a malformed error', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(tdxRaw, v5Raw, sgxRaw),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(), { nil: undefined }),
        (raw, edits, cut) => {
          const buf = raw.slice(0, cut === undefined ? raw.length : cut % (raw.length + 1));
          for (const [at, v] of edits) if (buf.length > 0) buf[at % buf.length] = v;
          let q: IntelQuote | undefined;
          try {
            q = parseQuote(buf);
          } catch (e) {
            if (!isMalformed(e)) throw e;
            return;
          }
          // When it parses, the parts lie inside the input.
          expect(q.layout.end).toBeLessThanOrEqual(buf.length);
          expect(q.signedData.length).toBeLessThanOrEqual(q.layout.signatureDataLenOffset);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('parseQuote without vectors', () => {
  it('empty and tiny inputs are truncated, not crashes', () => {
    expect(codeOf(() => parseQuote(new Uint8Array()))).toBe('QUOTE_TRUNCATED');
    expect(codeOf(() => parseQuote(new Uint8Array(47)))).toBe('QUOTE_TRUNCATED');
  });

  it('header checks come before body bounds', () => {
    const h = new Uint8Array(48);
    h.set([4, 0, 2, 0, 0x81]);
    h.set(INTEL_QE_VENDOR_ID, 12);
    expect(codeOf(() => parseQuote(h))).toBe('QUOTE_TRUNCATED');
    h[0] = 9;
    expect(codeOf(() => parseQuote(h))).toBe('QUOTE_UNSUPPORTED_VERSION');
    h[0] = 4;
    h[12] = 0;
    expect(codeOf(() => parseQuote(h))).toBe('QUOTE_BAD_FIELD'); // not Intel's QE vendor id
  });
});

import { ZeroHash } from 'ethers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../attestation/bytes.js';
import { chainHeads, nextRequestHead, receiptDigest, voucherDigest } from './typed-data.js';
import {
  chainHeadsFast,
  nextRequestHeadFast,
  receiptDigestFast,
  voucherDigestFast,
} from './typed-data-fast.js';

/** The hand encoder agrees with the ethers-based reference in ../typed-data.ts. */

const u = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
const b32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `0x${toHex(b)}`);
const addr = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => `0x${toHex(b)}`);
const domain = fc.record({ chainId: u(256), verifyingContract: addr });

describe('typed-data-fast', () => {
  it('voucher and receipt digests match ethers', () => {
    fc.assert(
      fc.property(
        domain,
        fc.record({
          leaseId: u(256),
          firstNonce: u(64),
          lastNonce: u(64),
          requestHead: b32,
          cumulativeAmount: u(256),
          deadline: u(64),
        }),
        fc.record({
          leaseId: u(256),
          firstNonce: u(64),
          lastNonce: u(64),
          recordHead: b32,
          evidenceHash: b32,
          startedAt: u(64),
          finishedAt: u(64),
        }),
        (d, v, r) => {
          expect(`0x${toHex(voucherDigestFast(d, v))}`).toBe(voucherDigest(d, v));
          expect(`0x${toHex(receiptDigestFast(d, r))}`).toBe(receiptDigest(d, r));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('call-record chains match ethers', () => {
    const rec = fc.record({
      functionHash: b32,
      inputHash: b32,
      outputHash: b32,
      usage: u(64),
      price: u(256),
    });
    fc.assert(
      fc.property(u(63), fc.array(rec, { minLength: 1, maxLength: 8 }), (first, rs) => {
        const records = rs.map((r, i) => ({ ...r, nonce: first + BigInt(i) }));
        const last = first + BigInt(rs.length - 1);
        expect(chainHeadsFast(records, first, last)).toEqual(chainHeads(records, first, last));
        expect(nextRequestHeadFast(ZeroHash, records[0]!)).toBe(nextRequestHead(ZeroHash, records[0]!));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses values that do not fit their type, as ethers does', () => {
    expect(() =>
      nextRequestHeadFast(ZeroHash, { nonce: 1n << 64n, functionHash: ZeroHash, inputHash: ZeroHash }),
    ).toThrow(RangeError);
    expect(() => chainHeadsFast([], 1n, 1n)).toThrow(RangeError);
  });
});

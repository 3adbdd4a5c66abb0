import { randomBytes } from 'node:crypto';
import { ZeroAddress } from 'ethers';
import { describe, expect, it } from 'vitest';
import { toHex } from '../attestation/bytes.js';
import { isSessionError } from './errors.js';
import { verifyReceipt } from './receipts.js';
import { addressOfPrivateKey } from './secp256k1.js';
import { signReceipt } from './settlement.js';
import { type CallRecord, chainHeads } from './typed-data.js';

const h = () => `0x${toHex(randomBytes(32))}`;
const domain = { chainId: 31337n, verifyingContract: ZeroAddress };
const key = new Uint8Array(randomBytes(32));
const evidenceHash = new Uint8Array(randomBytes(32));
const exp = { domain, leaseId: 5n, identityAddress: addressOfPrivateKey(key), evidenceHash };

function batch(n: number): CallRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    nonce: BigInt(10 + i),
    functionHash: h(),
    inputHash: h(),
    outputHash: h(),
    usage: 100n,
    price: 2n,
  }));
}

function receiptFor(records: CallRecord[], signer = key) {
  const first = records[0]!.nonce;
  const last = records[records.length - 1]!.nonce;
  return signReceipt(
    domain,
    {
      leaseId: 5n,
      firstNonce: first,
      lastNonce: last,
      recordHead: chainHeads(records, first, last).recordHead,
      evidenceHash: `0x${toHex(evidenceHash)}`,
      startedAt: 1n,
      finishedAt: 2n,
    },
    signer,
  );
}

function code(f: () => unknown): string {
  try {
    f();
    return 'ACCEPTED';
  } catch (e) {
    if (isSessionError(e)) return e.code;
    throw e;
  }
}

describe('verifyReceipt', () => {
  it('accepts a receipt over exactly its records', () => {
    const rs = batch(5);
    expect(verifyReceipt(receiptFor(rs), rs, exp).records).toHaveLength(5);
  });

  it('rejects a receipt whose chain does not match the records', () => {
    const rs = batch(4);
    const r = receiptFor(rs);
    expect(code(() => verifyReceipt(r, [rs[0]!, rs[1]!, rs[2]!, { ...rs[3]!, outputHash: h() }], exp))).toBe(
      'RECEIPT_MISMATCH',
    );
    expect(code(() => verifyReceipt(r, [rs[0]!, rs[2]!, rs[1]!, rs[3]!], exp))).toBe('RECEIPT_MISMATCH');
    expect(code(() => verifyReceipt(r, rs.slice(0, 3), exp))).toBe('RECEIPT_MISMATCH');
    expect(code(() => verifyReceipt(r, [rs[0]!, rs[1]!, rs[2]!, { ...rs[3]!, price: 3n }], exp))).toBe(
      'RECEIPT_MISMATCH',
    );
  });

  it('rejects another signer, lease or evidence', () => {
    const rs = batch(2);
    expect(code(() => verifyReceipt(receiptFor(rs, new Uint8Array(randomBytes(32))), rs, exp))).toBe(
      'RECEIPT_INVALID',
    );
    expect(code(() => verifyReceipt(receiptFor(rs), rs, { ...exp, leaseId: 6n }))).toBe('RECEIPT_MISMATCH');
    expect(code(() => verifyReceipt(receiptFor(rs), rs, { ...exp, evidenceHash: new Uint8Array(32) }))).toBe(
      'RECEIPT_MISMATCH',
    );
    expect(
      code(() => verifyReceipt(receiptFor(rs), rs, { ...exp, domain: { ...domain, chainId: 1n } })),
    ).toBe('RECEIPT_INVALID');
  });
});

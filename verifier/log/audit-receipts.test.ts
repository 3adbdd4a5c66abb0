import { secp256k1 } from '@noble/curves/secp256k1.js';
import { computeAddress, hexlify } from 'ethers';
import { describe, expect, it } from 'vitest';
import { signReceipt } from '../../protocol/settlement.js';
import type { Receipt, TypedDataDomain } from '../../protocol/typed-data.js';
import { auditReceipts, parseReceiptStore } from './audit-receipts.js';
import { cidOf } from './cid.js';
import type { LogEntry } from './entry.js';

const domain: TypedDataDomain = { chainId: 31337n, verifyingContract: `0x${'aa'.repeat(20)}` };
const key = secp256k1.utils.randomSecretKey();
const enclave = computeAddress(hexlify(key)).toLowerCase();
const SHA = '12'.repeat(32);

const receipt = (evidence = SHA): Receipt => ({
  leaseId: 1n,
  firstNonce: 1n,
  lastNonce: 64n,
  recordHead: `0x${'34'.repeat(32)}`,
  evidenceHash: `0x${evidence}`,
  startedAt: 1n,
  finishedAt: 2n,
});

/** One line of the SDK's receipt store for a receipt signed with `k`, naming `signer`. */
function line(r: Receipt, k: Uint8Array, signer = enclave): string {
  const s = signReceipt(domain, r, k);
  return JSON.stringify({
    domain: { chainId: '31337', verifyingContract: domain.verifyingContract },
    receipt: Object.fromEntries(
      Object.entries(r).map(([f, v]) => [f, typeof v === 'bigint' ? v.toString() : v]),
    ),
    receiptSignature: hexlify(s.signature),
    receiptSigner: signer,
  });
}

const entry = (patch: Partial<LogEntry> = {}): LogEntry => ({
  v: 1,
  kind: 'session-verified',
  time: 1,
  chain: null,
  evidence: { sha256: SHA, cid: cidOf(new Uint8Array(1)) },
  tee: 'simulated',
  tcbStatus: null,
  measurements: {},
  reportData: '00'.repeat(64),
  enclave,
  provider: null,
  executorId: null,
  leaseId: '1',
  roundId: null,
  policyHash: null,
  verdict: 'accepted',
  code: null,
  ...patch,
});

describe('receipts against the log', () => {
  it('a receipt signed by the logged enclave for logged evidence is logged; each broken link is a finding', () => {
    const other = secp256k1.utils.randomSecretKey();
    const store = [
      line(receipt(), key),
      line(receipt(), other, enclave), // names the enclave, signed by another key
      line(receipt('56'.repeat(32)), key), // evidence the log does not hold
      line(receipt(), other, computeAddress(hexlify(other)).toLowerCase()), // another enclave's signature
    ].join('\n');
    const r = auditReceipts(parseReceiptStore(`${store}\n`), [entry()]);
    expect(r.total).toBe(4);
    expect(r.logged).toBe(1);
    expect(r.findings.map((f) => f.code)).toEqual([
      'LOG_RECEIPT_INVALID',
      'LOG_NOT_LOGGED',
      'LOG_NOT_LOGGED',
    ]);
  });

  it('refuses a store line that is not a stored settlement, naming the line', () => {
    expect(() => parseReceiptStore(`${line(receipt(), key)}\n{"domain":{}}\n`)).toThrow(/line 2/);
    expect(() => parseReceiptStore('not json\n')).toThrow(
      expect.objectContaining({ code: 'LOG_RECEIPTS_MALFORMED' }),
    );
  });
});

import { ZeroAddress } from 'ethers';
import { type CallRequest, requestHead } from '../../protocol/call-records.js';
import { addressOfPrivateKey } from '../../protocol/secp256k1.js';
import { type SignedReceipt, type SignedVoucher, sha256Hex, signVoucher } from '../../protocol/settlement.js';
import type { CallRecord, TypedDataDomain } from '../../protocol/typed-data.js';
import { Account, type LedgerRules } from './account.js';
import { MemoryNonceStore, type NonceStore } from './nonce-store.js';
import type { ReceiptSigner } from './receipt-signer.js';

/*
 * Books for tests, without gRPC: one client key, a clock the test moves, and a receipt signer that
 * numbers its receipts instead of signing (the books never look inside a signature; the receipt's
 * identity is what the tests compare).
 */

export const DOMAIN: TypedDataDomain = { chainId: 31337n, verifyingContract: ZeroAddress };
export const LEASE = 7n;
export const EVIDENCE = new Uint8Array(32).fill(9);

/** The client wallet of the tests (a fixed key). */
export const CLIENT_KEY = new Uint8Array(32).fill(1);
export const CLIENT = addressOfPrivateKey(CLIENT_KEY);

export const RULES: LedgerRules = {
  window: 1024,
  maxNonceJump: 1024,
  maxUncovered: 4,
  maxVoucherRange: 4,
  voucherWaitMs: 0,
  settleWaitMs: 5_000,
  pricePerCall: 10n,
  reserveBlock: 1024n,
  minVoucherLifetimeS: 600,
  recentCalls: 256,
  recentSettles: 16,
};

/** A clock at a fixed Unix time (ms) that tests may move. */
export class Clock {
  ms = 1_700_000_000_000;
  readonly now = () => this.ms;
  /** A voucher deadline `s` seconds from now. */
  deadlineIn(s: number): bigint {
    return BigInt(Math.floor(this.ms / 1000) + s);
  }
}

export function countingSigner(): ReceiptSigner & { readonly signed: SignedReceipt[] } {
  const signed: SignedReceipt[] = [];
  return {
    address: `0x${'ee'.repeat(20)}`,
    signed,
    sign(r) {
      const signature = new Uint8Array(65);
      new DataView(signature.buffer).setUint32(0, signed.length);
      const sr = { receipt: r, signature };
      signed.push(sr);
      return sr;
    },
  };
}

export function newAccount(
  o: { rules?: Partial<LedgerRules>; store?: NonceStore; clock?: Clock; signer?: ReceiptSigner } = {},
): { account: Account; clock: Clock; store: NonceStore; signer: ReceiptSigner } {
  const clock = o.clock ?? new Clock();
  const store = o.store ?? new MemoryNonceStore();
  const signer = o.signer ?? countingSigner();
  const account = new Account({
    leaseId: LEASE,
    client: CLIENT,
    domain: DOMAIN,
    signer,
    store,
    rules: { ...RULES, ...o.rules },
    now: clock.now,
  });
  return { account, clock, store, signer };
}

export function req(nonce: bigint): CallRequest {
  return {
    nonce,
    functionHash: `0x${'ab'.repeat(32)}`,
    inputHash: sha256Hex(new TextEncoder().encode(`input ${nonce}`)),
  };
}

export function record(nonce: bigint, price = RULES.pricePerCall): CallRecord {
  return { ...req(nonce), outputHash: `0x${'cd'.repeat(32)}`, usage: 1n, price };
}

/** A voucher over [first, last] (the calls of `req`), signed by the client (or by `key`). */
export function voucher(
  first: bigint,
  last: bigint,
  amount: bigint,
  deadline: bigint,
  key: Uint8Array = CLIENT_KEY,
): SignedVoucher {
  const reqs: CallRequest[] = [];
  for (let n = first; n <= last; n++) reqs.push(req(n));
  return signVoucher(
    DOMAIN,
    {
      leaseId: LEASE,
      firstNonce: first,
      lastNonce: last,
      requestHead: requestHead(reqs),
      cumulativeAmount: amount,
      deadline,
    },
    key,
  );
}

/** A per-call call: voucher checked, nonce taken; resolves with its receipt once it ran. */
export async function perCall(a: Account, clock: Clock, n: bigint, amount: bigint, deadlineS = 3600) {
  const v = voucher(n, n, amount, clock.deadlineIn(deadlineS));
  a.checkInlineVoucher(v, req(n));
  await (await a.admit(req(n), { voucher: v, evidenceHash: EVIDENCE })).durable;
  return a.complete(record(n));
}

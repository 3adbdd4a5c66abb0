import { AbiCoder, keccak256, TypedDataEncoder, ZeroHash } from 'ethers';

/*
 * EIP-712 typed data shared by the SDK, the executor and the Settlement contract
 * (ARCHITECTURE.md, "Requests, receipts, vouchers"). The Solidity side must produce the same
 * digests; `contracts/` tests prove it with the vectors in `typed-data.vectors.json`.
 *
 * A batch covers the contiguous nonce range [firstNonce, lastNonce]; a batch of one is the per-call
 * case. Two hash chains run over the batch's call records, in nonce order, each starting from zero:
 *   requestHead_i = keccak256(abi.encode(requestHead_{i-1}, nonce, functionHash, inputHash))
 *   recordHead_i  = keccak256(abi.encode(recordHead_{i-1}, nonce, functionHash, inputHash,
 *                                        outputHash, usage, price))
 * The customer signs the request side (it knows no outputs before signing); the enclave signs the
 * full records.
 */

export const TYPED_DATA_NAME = 'defaas Settlement';
export const TYPED_DATA_VERSION = '1';

export interface TypedDataDomain {
  readonly chainId: bigint;
  /** The Settlement contract (or the zero address for a standalone executor's dev lease). */
  readonly verifyingContract: string;
}

export function eip712Domain(d: TypedDataDomain) {
  return {
    name: TYPED_DATA_NAME,
    version: TYPED_DATA_VERSION,
    chainId: d.chainId,
    verifyingContract: d.verifyingContract,
  };
}

export const VOUCHER_TYPES = {
  Voucher: [
    { name: 'leaseId', type: 'uint256' },
    { name: 'firstNonce', type: 'uint64' },
    { name: 'lastNonce', type: 'uint64' },
    { name: 'requestHead', type: 'bytes32' },
    { name: 'cumulativeAmount', type: 'uint256' },
    { name: 'deadline', type: 'uint64' },
  ],
} as const;

export const RECEIPT_TYPES = {
  Receipt: [
    { name: 'leaseId', type: 'uint256' },
    { name: 'firstNonce', type: 'uint64' },
    { name: 'lastNonce', type: 'uint64' },
    { name: 'recordHead', type: 'bytes32' },
    { name: 'evidenceHash', type: 'bytes32' },
    { name: 'startedAt', type: 'uint64' },
    { name: 'finishedAt', type: 'uint64' },
  ],
} as const;

/** One invocation as both sides record it. Hashes are 0x-prefixed 32-byte hex. */
export interface CallRecord {
  readonly nonce: bigint;
  readonly functionHash: string;
  readonly inputHash: string;
  readonly outputHash: string;
  /** Metered usage (fuel / microseconds, per the lease's meter). */
  readonly usage: bigint;
  /** Price charged for this call, in token base units. */
  readonly price: bigint;
}

export interface Voucher {
  readonly leaseId: bigint;
  readonly firstNonce: bigint;
  readonly lastNonce: bigint;
  readonly requestHead: string;
  readonly cumulativeAmount: bigint;
  readonly deadline: bigint;
}

export interface Receipt {
  readonly leaseId: bigint;
  readonly firstNonce: bigint;
  readonly lastNonce: bigint;
  readonly recordHead: string;
  readonly evidenceHash: string;
  readonly startedAt: bigint;
  readonly finishedAt: bigint;
}

const abi = AbiCoder.defaultAbiCoder();

export function nextRequestHead(
  prev: string,
  r: Pick<CallRecord, 'nonce' | 'functionHash' | 'inputHash'>,
): string {
  return keccak256(
    abi.encode(['bytes32', 'uint64', 'bytes32', 'bytes32'], [prev, r.nonce, r.functionHash, r.inputHash]),
  );
}

export function nextRecordHead(prev: string, r: CallRecord): string {
  return keccak256(
    abi.encode(
      ['bytes32', 'uint64', 'bytes32', 'bytes32', 'bytes32', 'uint64', 'uint256'],
      [prev, r.nonce, r.functionHash, r.inputHash, r.outputHash, r.usage, r.price],
    ),
  );
}

/** Heads of both chains over a batch; throws when the records are not the contiguous range given. */
export function chainHeads(
  records: readonly CallRecord[],
  firstNonce: bigint,
  lastNonce: bigint,
): { requestHead: string; recordHead: string } {
  if (records.length === 0 || BigInt(records.length) !== lastNonce - firstNonce + 1n) {
    throw new RangeError(
      `batch [${firstNonce}, ${lastNonce}] needs ${lastNonce - firstNonce + 1n} records, got ${records.length}`,
    );
  }
  let requestHead: string = ZeroHash;
  let recordHead: string = ZeroHash;
  records.forEach((r, i) => {
    if (r.nonce !== firstNonce + BigInt(i))
      throw new RangeError(`record ${i} has nonce ${r.nonce}, expected ${firstNonce + BigInt(i)}`);
    requestHead = nextRequestHead(requestHead, r);
    recordHead = nextRecordHead(recordHead, r);
  });
  return { requestHead, recordHead };
}

export function voucherDigest(domain: TypedDataDomain, v: Voucher): string {
  return TypedDataEncoder.hash(eip712Domain(domain), { Voucher: [...VOUCHER_TYPES.Voucher] }, v);
}

export function receiptDigest(domain: TypedDataDomain, r: Receipt): string {
  return TypedDataEncoder.hash(eip712Domain(domain), { Receipt: [...RECEIPT_TYPES.Receipt] }, r);
}

/** A typed-data value as JSON carries it: every uint as a decimal string (JSON numbers lose precision). */
export type JsonFields<T> = { readonly [K in keyof T]: T[K] extends bigint ? string : T[K] };

/** Voucher, Receipt or CallRecord with its bigint fields as decimal strings, keys in type order. */
export function typedDataJson<T extends Voucher | Receipt | CallRecord>(value: T): JsonFields<T> {
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]),
  ) as JsonFields<T>;
}

import { keccak_256 } from '@noble/hashes/sha3.js';
import { fromHex, toHex } from '../attestation/bytes.js';
import {
  type CallRecord,
  RECEIPT_TYPES,
  type Receipt,
  TYPED_DATA_NAME,
  TYPED_DATA_VERSION,
  type TypedDataDomain,
  VOUCHER_TYPES,
  type Voucher,
} from './typed-data.js';

/*
 * The EIP-712 digests and call-record chains of ../typed-data.ts, encoded by hand for the hot path
 * (ethers' generic encoder costs ≈0.14–0.26 ms per hash here; this ≈0.01 ms). The encodings are the
 * fixed-width cases of EIP-712 §"Definition of encodeData" and of `abi.encode` over static types:
 * every field is one 32-byte word (uintN big-endian, bytes32 as is, address left-padded, strings as
 * keccak256 of their bytes). ../typed-data.ts stays the reference: typed-data-fast.test.ts checks
 * both agree on random inputs, and the type strings below are built from the same type lists.
 */

const enc = new TextEncoder();

function typeString(name: string, fields: readonly { name: string; type: string }[]): string {
  return `${name}(${fields.map((f) => `${f.type} ${f.name}`).join(',')})`;
}

const DOMAIN_TYPEHASH = keccak_256(
  enc.encode('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'),
);
const VOUCHER_TYPEHASH = keccak_256(enc.encode(typeString('Voucher', VOUCHER_TYPES.Voucher)));
const RECEIPT_TYPEHASH = keccak_256(enc.encode(typeString('Receipt', RECEIPT_TYPES.Receipt)));
const NAME_HASH = keccak_256(enc.encode(TYPED_DATA_NAME));
const VERSION_HASH = keccak_256(enc.encode(TYPED_DATA_VERSION));

class Words {
  readonly buf: Uint8Array;
  private off = 0;
  constructor(n: number) {
    this.buf = new Uint8Array(32 * n);
  }
  uint(v: bigint, bits: number): this {
    if (v < 0n || v >= 1n << BigInt(bits)) throw new RangeError(`value ${v} does not fit uint${bits}`);
    let x = v;
    for (let i = 31; i >= 0 && x > 0n; i--) {
      this.buf[this.off + i] = Number(x & 0xffn);
      x >>= 8n;
    }
    this.off += 32;
    return this;
  }
  word(b: Uint8Array): this {
    if (b.length !== 32) throw new RangeError('expected 32 bytes');
    this.buf.set(b, this.off);
    this.off += 32;
    return this;
  }
  bytes32(hex: string): this {
    return this.word(fromHex(hex, 'bytes32'));
  }
  address(hex: string): this {
    const a = fromHex(hex, 'address');
    if (a.length !== 20) throw new RangeError('expected a 20-byte address');
    this.buf.set(a, this.off + 12);
    this.off += 32;
    return this;
  }
}

const separators = new Map<string, Uint8Array>();

export function domainSeparator(d: TypedDataDomain): Uint8Array {
  const key = `${d.chainId}/${d.verifyingContract.toLowerCase()}`;
  let s = separators.get(key);
  if (!s) {
    s = keccak_256(
      new Words(5)
        .word(DOMAIN_TYPEHASH)
        .word(NAME_HASH)
        .word(VERSION_HASH)
        .uint(d.chainId, 256)
        .address(d.verifyingContract).buf,
    );
    if (separators.size > 64) separators.clear();
    separators.set(key, s);
  }
  return s;
}

function digest(d: TypedDataDomain, structHash: Uint8Array): Uint8Array {
  const b = new Uint8Array(66);
  b[0] = 0x19;
  b[1] = 0x01;
  b.set(domainSeparator(d), 2);
  b.set(structHash, 34);
  return keccak_256(b);
}

export function voucherDigestFast(d: TypedDataDomain, v: Voucher): Uint8Array {
  const w = new Words(7)
    .word(VOUCHER_TYPEHASH)
    .uint(v.leaseId, 256)
    .uint(v.firstNonce, 64)
    .uint(v.lastNonce, 64)
    .bytes32(v.requestHead)
    .uint(v.cumulativeAmount, 256)
    .uint(v.deadline, 64);
  return digest(d, keccak_256(w.buf));
}

export function receiptDigestFast(d: TypedDataDomain, r: Receipt): Uint8Array {
  const w = new Words(8)
    .word(RECEIPT_TYPEHASH)
    .uint(r.leaseId, 256)
    .uint(r.firstNonce, 64)
    .uint(r.lastNonce, 64)
    .bytes32(r.recordHead)
    .bytes32(r.evidenceHash)
    .uint(r.startedAt, 64)
    .uint(r.finishedAt, 64);
  return digest(d, keccak_256(w.buf));
}

const hex = (b: Uint8Array) => `0x${toHex(b)}`;

export function nextRequestHeadFast(
  prev: string,
  r: Pick<CallRecord, 'nonce' | 'functionHash' | 'inputHash'>,
): string {
  return hex(
    keccak_256(new Words(4).bytes32(prev).uint(r.nonce, 64).bytes32(r.functionHash).bytes32(r.inputHash).buf),
  );
}

export function nextRecordHeadFast(prev: string, r: CallRecord): string {
  return hex(
    keccak_256(
      new Words(7)
        .bytes32(prev)
        .uint(r.nonce, 64)
        .bytes32(r.functionHash)
        .bytes32(r.inputHash)
        .bytes32(r.outputHash)
        .uint(r.usage, 64)
        .uint(r.price, 256).buf,
    ),
  );
}

const ZERO = `0x${'00'.repeat(32)}`;

/** Same contract as chainHeads in ../typed-data.ts (throws RangeError on a non-contiguous batch). */
export function chainHeadsFast(
  records: readonly CallRecord[],
  firstNonce: bigint,
  lastNonce: bigint,
): { requestHead: string; recordHead: string } {
  if (records.length === 0 || BigInt(records.length) !== lastNonce - firstNonce + 1n)
    throw new RangeError(
      `batch [${firstNonce}, ${lastNonce}] needs ${lastNonce - firstNonce + 1n} records, got ${records.length}`,
    );
  let requestHead = ZERO;
  let recordHead = ZERO;
  records.forEach((r, i) => {
    if (r.nonce !== firstNonce + BigInt(i))
      throw new RangeError(`record ${i} has nonce ${r.nonce}, expected ${firstNonce + BigInt(i)}`);
    requestHead = nextRequestHeadFast(requestHead, r);
    recordHead = nextRecordHeadFast(recordHead, r);
  });
  return { requestHead, recordHead };
}

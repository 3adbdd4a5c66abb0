import { ZeroHash } from 'ethers';
import { describe, expect, it } from 'vitest';
import type { CallRequest } from '../../protocol/call-records.js';
import type { VerifiedReceipt } from '../../protocol/receipts.js';
import type { CallRecord } from '../../protocol/typed-data.js';
import { ClientAccount } from './account.js';
import { Batcher } from './batcher.js';

const req = (nonce: bigint): CallRequest => ({ nonce, functionHash: ZeroHash, inputHash: ZeroHash });
const rec = (r: CallRequest): CallRecord => ({ ...r, outputHash: ZeroHash, usage: 1n, price: 1n });
const KEY = new Uint8Array(32).fill(1);

function setup(maxCalls = 4, maxMillis = 10_000) {
  const settled: bigint[][] = [];
  const batcher = new Batcher({ maxCalls, maxMillis }, async (_acct, _key, records) => {
    settled.push(records.map((r) => r.nonce));
    return { records } as unknown as VerifiedReceipt;
  });
  return { batcher, settled, acct: new ClientAccount('0x01') };
}

describe('Batcher', () => {
  it('settles a full batch once, after every call is answered, one voucher per contiguous run of calls that ran', async () => {
    const { batcher, settled, acct } = setup();
    const entries = [1n, 2n, 3n, 4n].map((n) => batcher.add(acct, KEY, req(n)));
    expect(acct.unsettled.size).toBe(4);
    // Answered out of order; call 3 did not run.
    for (const i of [3, 0, 2]) {
      entries[i]!.record = i === 2 ? undefined : rec(entries[i]!.req);
      batcher.answered(entries[i]!);
    }
    expect(settled).toEqual([]);
    entries[1]!.record = rec(entries[1]!.req);
    batcher.answered(entries[1]!);
    await expect(entries[2]!.receipt).rejects.toThrow(/did not run/);
    expect((await entries[0]!.receipt).records.map((r) => r.nonce)).toEqual([1n, 2n]);
    expect((await entries[3]!.receipt).records.map((r) => r.nonce)).toEqual([4n]);
    expect(settled).toEqual([[1n, 2n], [4n]]);
    // Answering again settles nothing twice.
    batcher.answered(entries[0]!);
    expect(settled).toHaveLength(2);
    expect(acct.unsettled.size).toBe(0);
  });

  it('closes a batch on its timer and on flush; a new call opens a new batch', async () => {
    const { batcher, settled, acct } = setup(64, 20);
    const a = batcher.add(acct, KEY, req(1n));
    a.record = rec(a.req);
    batcher.answered(a);
    await a.receipt;
    const b = batcher.add(acct, KEY, req(2n));
    b.record = rec(b.req);
    batcher.answered(b);
    await batcher.flush(1_000);
    expect(settled).toEqual([[1n], [2n]]);
  });

  it('releases the reserved uncovered calls once the batch voucher is out', async () => {
    const { batcher, acct } = setup(2);
    await acct.reserveUncovered(2);
    await acct.reserveUncovered(2);
    let third = false;
    const waiting = acct.reserveUncovered(2).then(() => {
      third = true;
    });
    const e = [1n, 2n].map((n) => batcher.add(acct, KEY, req(n)));
    for (const x of e) {
      x.record = rec(x.req);
      batcher.answered(x);
    }
    await waiting;
    expect(third).toBe(true);
  });
});

import { AbiCoder, type ContractTransactionResponse, id, type Provider } from 'ethers';
import { describe, expect, it } from 'vitest';
import { isAgentError } from './errors.js';
import { decodeRevert, isTransient, TxSender } from './tx-sender.js';

/** The revert data of WitnessPoolCommitClosed(roundId, deadline). */
const commitClosed =
  id('WitnessPoolCommitClosed(uint256,uint64)').slice(0, 10) +
  AbiCoder.defaultAbiCoder().encode(['uint256', 'uint64'], [7n, 1000n]).slice(2);

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8545'), { code: 'ECONNREFUSED' });

/** A provider whose receipts say mined at block 5, status 1. */
const provider = {
  getTransactionReceipt: async () => ({ status: 1, blockNumber: 5, gasUsed: 21000n }),
} as unknown as Provider;
const tx = { hash: '0xabc' } as unknown as ContractTransactionResponse;

describe('tx sender', () => {
  it('decodes a custom error from what ethers throws (nested too)', () => {
    expect(decodeRevert({ data: commitClosed })).toEqual({
      name: 'WitnessPoolCommitClosed',
      args: ['7', '1000'],
    });
    expect(decodeRevert({ info: { error: { data: commitClosed } } })?.name).toBe('WitnessPoolCommitClosed');
    expect(decodeRevert(new Error('x', { cause: { data: commitClosed } }))?.name).toBe(
      'WitnessPoolCommitClosed',
    );
    expect(decodeRevert({ data: '0xdeadbeef' })).toBeUndefined();
  });

  it('tells transient failures from the rest', () => {
    expect(isTransient(refused())).toBe(true);
    expect(isTransient(new Error('nonce too low'))).toBe(true);
    expect(isTransient(Object.assign(new Error('x'), { code: 'INSUFFICIENT_FUNDS' }))).toBe(false);
  });

  it('a revert is thrown at once as TX_REVERTED with the decoded error, not retried', async () => {
    let sends = 0;
    const s = new TxSender({ provider, baseDelayMs: 1 });
    const e = await s
      .send('commit', async () => {
        sends++;
        throw Object.assign(new Error('execution reverted'), { data: commitClosed });
      })
      .catch((x: unknown) => x);
    expect(isAgentError(e, 'TX_REVERTED')).toBe(true);
    expect((e as { info: { error: string } }).info.error).toBe('WitnessPoolCommitClosed');
    expect(sends).toBe(1);
  });

  it('retries transient failures with backoff, and stops when the effect is already on chain', async () => {
    let sends = 0;
    const s = new TxSender({ provider, baseDelayMs: 1 });
    const ok = await s.send('reveal', async () => {
      if (++sends < 3) throw refused();
      return tx;
    });
    expect(ok).toMatchObject({ hash: '0xabc', block: 5 });
    expect(sends).toBe(3);
    let checks = 0;
    const done = await s.send(
      'reveal',
      async () => {
        throw refused();
      },
      async () => ++checks >= 2,
    );
    expect(done).toBe('already-done');
  });

  it('gives up after maxAttempts with TX_FAILED; a non-transient failure is TX_FAILED at once', async () => {
    const s = new TxSender({ provider, baseDelayMs: 1, maxAttempts: 3 });
    let sends = 0;
    const e = await s
      .send('x', async () => {
        sends++;
        throw refused();
      })
      .catch((x: unknown) => x);
    expect(isAgentError(e, 'TX_FAILED')).toBe(true);
    expect(sends).toBe(3);
    sends = 0;
    const f = await s
      .send('y', async () => {
        sends++;
        throw Object.assign(new Error('insufficient funds'), { code: 'INSUFFICIENT_FUNDS' });
      })
      .catch((x: unknown) => x);
    expect(isAgentError(f, 'TX_FAILED')).toBe(true);
    expect(sends).toBe(1);
  });
});

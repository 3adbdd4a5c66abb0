import type { Logger } from 'pino';
import type { AgentChain } from './chain.js';
import { AgentError } from './errors.js';
import type { SentTx, TxSender } from './tx-sender.js';

/*
 * Registration in the Registry: a witness registers once with at least `minWitnessStake` (approve the
 * Registry, then `registerWitness`). An existing registration is reused as it is: its stake is not
 * topped up (a witness whose stake fell below the minimum, or whose reputation reached zero, is not
 * eligible and is told so; adding stake is the operator's decision).
 */

export interface Registration {
  readonly witnessId: bigint;
  readonly reused: boolean;
  readonly stake: bigint;
  readonly reputation: number;
  readonly eligible: boolean;
  readonly minStake: bigint;
  readonly txs: string[];
}

export async function ensureRegistered(
  ch: AgentChain,
  sender: TxSender,
  log: Logger,
  stake?: bigint,
): Promise<Registration> {
  const minStake = await ch.registry.minWitnessStake();
  let witnessId = await ch.registry.witnessIdOf(ch.witness);
  const txs: string[] = [];
  const reused = witnessId !== 0n;
  if (!reused) {
    const amount = stake ?? minStake;
    if (amount < minStake)
      throw new AgentError(
        'INSUFFICIENT_FUNDS',
        `--stake ${amount} is below the minimum witness stake ${minStake}`,
        {
          stake: amount.toString(),
          minStake: minStake.toString(),
        },
      );
    const balance = await ch.token.balanceOf(ch.witness);
    if (balance < amount)
      throw new AgentError(
        'INSUFFICIENT_FUNDS',
        `${ch.witness} holds ${balance} token units; registering needs ${amount}`,
        { balance: balance.toString(), stake: amount.toString() },
      );
    const registry = await ch.registry.getAddress();
    if ((await ch.token.allowance(ch.witness, registry)) < amount) {
      const sent = await sender.send(
        'Token.approve',
        () => ch.token.approve(registry, amount),
        async () => (await ch.token.allowance(ch.witness, registry)) >= amount,
      );
      if (sent !== 'already-done') txs.push((sent as SentTx).hash);
    }
    const sent = await sender.send(
      'Registry.registerWitness',
      () => ch.registry.registerWitness(amount),
      async () => (await ch.registry.witnessIdOf(ch.witness)) !== 0n,
    );
    if (sent !== 'already-done') txs.push((sent as SentTx).hash);
    witnessId = await ch.registry.witnessIdOf(ch.witness);
  }
  const w = await ch.registry.witness(witnessId);
  const r: Registration = {
    witnessId,
    reused,
    stake: w.stake,
    reputation: Number(w.reputation),
    eligible: w.listPosition !== 0n,
    minStake,
    txs,
  };
  log.info(
    { witnessId: witnessId.toString(), reused, stake: w.stake.toString(), eligible: r.eligible },
    reused ? 'witness registration reused' : 'witness registered',
  );
  if (!r.eligible)
    log.warn(
      { stake: w.stake.toString(), minStake: minStake.toString(), reputation: r.reputation },
      'not eligible for new committees (stake below the minimum or reputation zero)',
    );
  return r;
}

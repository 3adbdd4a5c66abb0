import type { Provider } from 'ethers';
import { connectRegistry, connectToken } from '../../contracts/bindings/index.js';
import type { AgentDeployment } from './chain.js';
import { type Failure, readState } from './state-store.js';

/*
 * What `defaas witness status` reports: the agent's rounds as its state directory records them, its
 * failures, and — with a chain endpoint — its balances. Rewards are paid by `finalize` itself (no
 * claim step exists in the pool), so there is nothing pending to claim: a round's payment is in its
 * `outcome.paid`.
 */

export interface RoundStatus {
  readonly roundId: string;
  readonly leaseId: string;
  readonly epoch: number;
  readonly phase: string;
  readonly verdict: string | null;
  readonly evidenceHash: string | null;
  readonly evidencePath: string | null;
  readonly commitDeadline: number;
  readonly revealDeadline: number;
  readonly commitTx: string | null;
  readonly revealTx: string | null;
  readonly finalizeTx: string | null;
  readonly missed: string | null;
  readonly outcome: string | null;
  readonly paid: string | null;
  readonly failures: readonly Failure[];
}

export interface AgentStatus {
  readonly stateDir: string;
  readonly witness: string;
  readonly chainId: string;
  readonly pool: string;
  readonly witnessId: string | null;
  readonly cursor: number | null;
  readonly rounds: readonly RoundStatus[];
  readonly counts: Readonly<Record<string, number>>;
  readonly failures: readonly Failure[];
  /** Sum of this witness's recorded round payments (base units, decimal; negative = penalties). */
  readonly totalPaid: string;
  /** From the chain; null without an endpoint (`note` says so). */
  readonly balances: {
    readonly token: string;
    readonly stake: string;
    readonly thawing: string;
    readonly reputation: number;
    readonly eligible: boolean;
    /** Always "0": the pool pays at finalize, there is nothing to claim. */
    readonly pendingRewards: string;
  } | null;
  readonly note?: string;
}

export async function agentStatus(
  stateDir: string,
  chain?: { provider: Provider; deployment: AgentDeployment },
): Promise<AgentStatus> {
  const { agent, rounds } = await readState(stateDir);
  const counts: Record<string, number> = {};
  let total = 0n;
  const out: RoundStatus[] = rounds.map((r) => {
    counts[r.phase] = (counts[r.phase] ?? 0) + 1;
    if (r.outcome) total += BigInt(r.outcome.paid);
    return {
      roundId: r.roundId,
      leaseId: r.leaseId,
      epoch: r.epoch,
      phase: r.phase,
      verdict: r.sealed?.verdict ?? null,
      evidenceHash: r.sealed?.evidenceHash ?? null,
      evidencePath: r.evaluation?.evidencePath ?? null,
      commitDeadline: r.commitDeadline,
      revealDeadline: r.revealDeadline,
      commitTx: r.commitTx ?? null,
      revealTx: r.revealTx ?? null,
      finalizeTx: r.finalizeTx ?? null,
      missed: r.missed ?? null,
      outcome: r.outcome?.verdict ?? null,
      paid: r.outcome?.paid ?? null,
      failures: r.failures,
    };
  });
  let balances: AgentStatus['balances'] = null;
  if (chain) {
    const c = chain.deployment.contracts;
    const registry = connectRegistry(c.registry, chain.provider);
    const token = connectToken(c.token, chain.provider);
    const id = await registry.witnessIdOf(agent.witness);
    const w = id === 0n ? undefined : await registry.witness(id);
    balances = {
      token: (await token.balanceOf(agent.witness)).toString(),
      stake: (w?.stake ?? 0n).toString(),
      thawing: (w?.thawing ?? 0n).toString(),
      reputation: Number(w?.reputation ?? 0n),
      eligible: w !== undefined && w.listPosition !== 0n,
      pendingRewards: '0',
    };
  }
  return {
    stateDir,
    witness: agent.witness,
    chainId: agent.chainId,
    pool: agent.pool,
    witnessId: agent.witnessId ?? null,
    cursor: agent.cursor,
    rounds: out,
    counts,
    failures: agent.failures,
    totalPaid: total.toString(),
    balances,
    ...(!chain && { note: 'local state only: balances need --rpc' }),
  };
}

/** The status as text for a person. */
export function formatStatus(s: AgentStatus): string {
  const lines = [
    `witness ${s.witness} (id ${s.witnessId ?? 'not registered'}) on chain ${s.chainId}, pool ${s.pool}`,
    `  state ${s.stateDir}, block cursor ${s.cursor ?? 'none'}`,
  ];
  if (s.balances)
    lines.push(
      `  token ${s.balances.token} · stake ${s.balances.stake} · thawing ${s.balances.thawing} · reputation ${s.balances.reputation} · ${s.balances.eligible ? 'eligible' : 'NOT eligible'} · pending rewards 0 (paid at finalize)`,
    );
  else if (s.note) lines.push(`  (${s.note})`);
  lines.push(
    `  rounds: ${s.rounds.length} (${
      Object.entries(s.counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }); paid in total ${s.totalPaid}`,
  );
  for (const r of s.rounds) {
    lines.push(
      `  round ${r.roundId} lease ${r.leaseId} epoch ${r.epoch}: ${r.phase}` +
        (r.verdict ? `, verdict ${r.verdict}` : '') +
        (r.missed ? `, MISSED ${r.missed}` : '') +
        (r.outcome ? `, outcome ${r.outcome}, paid ${r.paid}` : ''),
    );
    if (r.commitTx) lines.push(`    commit ${r.commitTx}`);
    if (r.revealTx) lines.push(`    reveal ${r.revealTx}`);
    if (r.finalizeTx) lines.push(`    finalize ${r.finalizeTx}`);
    if (r.evidencePath) lines.push(`    evidence ${r.evidencePath}`);
    for (const f of r.failures) lines.push(`    FAILED ${f.step} at ${f.at}: ${f.code}: ${f.message}`);
  }
  for (const f of s.failures) lines.push(`  FAILED ${f.step} at ${f.at}: ${f.code}: ${f.message}`);
  return lines.join('\n');
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatEther, type Provider } from 'ethers';
import { connectRegistry, connectToken } from '../../contracts/bindings/index.js';
import type { AgentDeployment } from '../../verifier/agent/chain.js';
import { type BidPhase, type LeasePhase, readProviderState } from './state.js';

/*
 * `defaas provider status`: what the agent's state directory holds (registration, bids by phase,
 * leases with what is held, redeemed and collected, recent failures), the collateral keeper's report
 * when the executor runs on TDX or SEV-SNP (`tcb-status`), and with a chain the executor's stake and
 * the provider's balance.
 */

export interface ProviderStatus {
  readonly provider: string;
  readonly chainId: string;
  readonly executorId: string | null;
  readonly enclave: string | null;
  readonly evidenceHash: string | null;
  readonly endpoint: string | null;
  readonly bids: {
    readonly orderId: string;
    readonly phase: BidPhase;
    readonly unitPrice: string;
    readonly note?: string;
  }[];
  readonly leases: {
    readonly leaseId: string;
    readonly phase: LeasePhase;
    readonly customer: string;
    /** The customer's highest voucher held, decimal; null when none came yet. */
    readonly held: string | null;
    readonly redeemed: string;
    readonly collected: string;
    readonly claimsAnswered: number;
  }[];
  /** The collateral keeper's last report (TDX / SEV-SNP), or null. */
  readonly tcb: Record<string, unknown> | null;
  readonly failures: {
    readonly at: string;
    readonly what: string;
    readonly code: string;
    readonly message: string;
  }[];
  readonly chain: {
    readonly balance: string;
    readonly freeStake: string;
    readonly lockedStake: string;
    readonly activeLeases: number;
  } | null;
}

/** The collateral keeper's report file in the state directory. */
export const COLLATERAL_STATUS_FILE = 'collateral-status.json';

export async function providerStatus(
  dir: string,
  chain?: { provider: Provider; deployment: AgentDeployment },
): Promise<ProviderStatus> {
  const r = await readProviderState(dir);
  const tcb = await readFile(join(dir, COLLATERAL_STATUS_FILE), 'utf8').then(
    (t) => JSON.parse(t) as Record<string, unknown>,
    () => null,
  );
  let onChain: ProviderStatus['chain'] = null;
  if (chain) {
    const token = connectToken(chain.deployment.contracts.token, chain.provider);
    const balance = await token.balanceOf(r.provider);
    onChain = { balance: balance.toString(), freeStake: '0', lockedStake: '0', activeLeases: 0 };
    if (r.executorId !== null) {
      const e = await connectRegistry(chain.deployment.contracts.registry, chain.provider).executor(
        r.executorId,
      );
      onChain = {
        balance: balance.toString(),
        freeStake: e.stake.toString(),
        lockedStake: e.locked.toString(),
        activeLeases: Number(e.activeLeases),
      };
    }
  }
  return {
    provider: r.provider,
    chainId: r.chainId,
    executorId: r.executorId,
    enclave: r.enclave,
    evidenceHash: r.evidenceHash,
    endpoint: r.endpoint,
    bids: Object.values(r.bids).map((b) => ({
      orderId: b.orderId,
      phase: b.phase,
      unitPrice: b.unitPrice,
      ...(b.note !== undefined && { note: b.note }),
    })),
    leases: Object.values(r.leases).map((l) => ({
      leaseId: l.leaseId,
      phase: l.phase,
      customer: l.customer,
      held: l.voucher?.cumulativeAmount ?? null,
      redeemed: l.redeemed,
      collected: l.collected,
      claimsAnswered: l.claimsAnswered.length,
    })),
    tcb,
    failures: r.failures.slice(-5),
    chain: onChain,
  };
}

const tokens = (units: string) => formatEther(BigInt(units));

export function formatProviderStatus(s: ProviderStatus): string {
  const lines = [
    `provider ${s.provider} on chain ${s.chainId}`,
    s.executorId === null
      ? '  executor  not registered'
      : `  executor  #${s.executorId} enclave ${s.enclave ?? '(registered with another enclave: update pending)'} at ${s.endpoint ?? '?'}`,
  ];
  if (s.tcb)
    lines.push(
      `  tcb       ${String(s.tcb.tcbStatus ?? '?')} (${String(s.tcb.state ?? '?')}, refresh at ${String(s.tcb.refreshAt ?? '?')})`,
    );
  if (s.chain)
    lines.push(
      `  balance   ${tokens(s.chain.balance)}; stake free ${tokens(s.chain.freeStake)}, locked ${tokens(s.chain.lockedStake)}, ${s.chain.activeLeases} active lease(s)`,
    );
  lines.push(`  bids      ${s.bids.length}`);
  for (const b of s.bids)
    lines.push(`    order ${b.orderId}: ${b.phase} at ${b.unitPrice}/s${b.note ? ` (${b.note})` : ''}`);
  lines.push(`  leases    ${s.leases.length}`);
  for (const l of s.leases)
    lines.push(
      `    lease ${l.leaseId}: ${l.phase}, customer ${l.customer}; voucher held ${l.held === null ? 'none' : tokens(l.held)}, redeemed ${tokens(l.redeemed)}, collected ${tokens(l.collected)}${l.claimsAnswered ? `, ${l.claimsAnswered} claim(s) answered` : ''}`,
    );
  if (s.failures.length > 0) {
    lines.push('  recent failures');
    for (const f of s.failures) lines.push(`    ${f.at} ${f.what}: [${f.code}] ${f.message}`);
  }
  return `${lines.join('\n')}\n`;
}

import { hexlify } from 'ethers';
import type { RegistryTeeType } from '../../contracts/bindings/index.js';
import { type EnclaveIdentity, registrationProof } from '../../enclave-host/session/identity.js';
import { AgentError } from '../../verifier/agent/errors.js';
import type { ProviderContext } from './context.js';

/*
 * The executor's registration on the Registry (docs/provider.md, "Registration"): registered once with
 * its stake, specs, endpoint, enclave address and evidence hash, under the enclave's proof of
 * possession; after a restart, reused as it is when the enclave, evidence and endpoint are unchanged,
 * else updated (a new enclave identity means new evidence and an update, never a stale registration).
 * The Registry refuses an update while the executor has active leases: the agent then keeps the old
 * registration, does not bid (its enclave is not the registered one) and updates once they ended.
 */

export interface ExecutorSpecs {
  readonly cpuCores: number;
  readonly memoryMiB: number;
  readonly gpuMemoryMiB: number;
  readonly gflops: number;
  readonly teeType: RegistryTeeType;
}

export interface RegistrationInput {
  readonly identity: EnclaveIdentity;
  readonly evidenceHash: string;
  readonly endpoint: string;
  readonly specs: ExecutorSpecs;
  /** Stake for a first registration (token base units). */
  readonly stake: bigint;
}

export type RegistrationOutcome =
  | { readonly status: 'registered' | 'updated' | 'reused'; readonly executorId: bigint }
  /** The registered enclave is another one, bound to active leases: updated once they end. */
  | { readonly status: 'update-pending'; readonly executorId: bigint; readonly activeLeases: number };

export async function ensureExecutor(
  ctx: ProviderContext,
  r: RegistrationInput,
): Promise<RegistrationOutcome> {
  const { ch, state, sender } = ctx;
  const enclave = r.identity.identityAddress.toLowerCase();
  const registry = await ch.registry.getAddress();
  const proof = () =>
    hexlify(
      registrationProof(
        r.identity,
        { chainId: ch.chainId, verifyingContract: registry },
        { provider: ctx.address, evidenceHash: r.evidenceHash, endpoint: r.endpoint },
      ),
    );
  const record = state.record;
  let executorId = record.executorId !== null ? BigInt(record.executorId) : 0n;
  // A registration sent before a crash but not yet written down: the Registry knows the enclave.
  if (executorId === 0n) executorId = await ch.registry.executorOfEnclave(enclave);
  if (executorId !== 0n) {
    const e = await ch.registry.executor(executorId);
    if (e.provider.toLowerCase() !== ctx.address)
      throw new AgentError(
        'STATE_MISMATCH',
        `executor #${executorId} belongs to ${e.provider}, not to this provider ${ctx.address}`,
        { executorId: executorId.toString() },
      );
    const same =
      e.enclave.toLowerCase() === enclave &&
      e.evidenceHash.toLowerCase() === r.evidenceHash.toLowerCase() &&
      e.endpoint === r.endpoint;
    let status: 'reused' | 'updated' = 'reused';
    if (!same) {
      if (e.activeLeases !== 0n) {
        ctx.log.error(
          {
            executorId: executorId.toString(),
            registered: e.enclave,
            enclave,
            activeLeases: Number(e.activeLeases),
          },
          'the executor is registered with another enclave, bound to active leases: the Registry refuses an update until they end; this enclave cannot serve them',
        );
        await remember(ctx, executorId, null);
        return { status: 'update-pending', executorId, activeLeases: Number(e.activeLeases) };
      }
      await sender.send(
        'Registry.updateExecutor',
        () => ch.registry.updateExecutor(executorId, enclave, r.evidenceHash, r.endpoint, proof()),
        async () => {
          const now = await ch.registry.executor(executorId);
          return (
            now.enclave.toLowerCase() === enclave &&
            now.evidenceHash.toLowerCase() === r.evidenceHash.toLowerCase()
          );
        },
      );
      status = 'updated';
    }
    await remember(ctx, executorId, r);
    return { status, executorId };
  }
  // First registration: check the stake before anything is sent.
  const minStake = (await ch.market.params()).minProviderStake;
  if (r.stake < minStake)
    throw new AgentError(
      'INSUFFICIENT_FUNDS',
      `--stake ${r.stake} is below the Market's minimum provider stake ${minStake}`,
      {
        stake: r.stake.toString(),
        minStake: minStake.toString(),
      },
    );
  const balance = await ch.token.balanceOf(ctx.address);
  if (balance < r.stake)
    throw new AgentError(
      'INSUFFICIENT_FUNDS',
      `${ctx.address} holds ${balance} token units; registering needs ${r.stake}`,
      {
        balance: balance.toString(),
        stake: r.stake.toString(),
      },
    );
  if ((await ch.token.allowance(ctx.address, registry)) < r.stake)
    await sender.send(
      'Token.approve',
      () => ch.token.approve(registry, r.stake),
      async () => (await ch.token.allowance(ctx.address, registry)) >= r.stake,
    );
  await sender.send(
    'Registry.registerExecutor',
    () =>
      ch.registry.registerExecutor(
        { enclave, ...r.specs, evidenceHash: r.evidenceHash, endpoint: r.endpoint },
        r.stake,
        proof(),
      ),
    async () => (await ch.registry.executorOfEnclave(enclave)) !== 0n,
  );
  executorId = await ch.registry.executorOfEnclave(enclave);
  await remember(ctx, executorId, r);
  return { status: 'registered', executorId };
}

async function remember(
  ctx: ProviderContext,
  executorId: bigint,
  r: RegistrationInput | null,
): Promise<void> {
  const rec = ctx.state.record;
  rec.executorId = executorId.toString();
  rec.enclave = r ? r.identity.identityAddress.toLowerCase() : null;
  rec.evidenceHash = r ? r.evidenceHash.toLowerCase() : null;
  rec.endpoint = r ? r.endpoint : null;
  await ctx.state.save();
}

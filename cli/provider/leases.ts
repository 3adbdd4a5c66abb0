import {
  MarketState,
  SettlementClaimStatus,
  SettlementLeaseStatus,
  WitnessPoolPhase,
} from '../../contracts/bindings/index.js';
import type { ProviderContext } from './context.js';
import type { HeldVoucher, LeaseRecord } from './state.js';

/*
 * What the provider does for each lease it serves (docs/provider.md, "Leases"), one step per tick:
 * - each epoch, asks the Market for its witness round and draws the committee once the seed block is
 *   mined (the provider is paid an epoch's fee only through its round);
 * - redeems the customer's latest cumulative voucher on a cadence, and at once when its deadline
 *   nears or the lease closed, then collects what was redeemed;
 * - answers claims on the batches it redeemed with the batch's enclave-signed receipt and records;
 * - finishes the lease when its time is over, and settles it after the redeem window (the collateral
 *   goes back to the executor's free stake).
 */

export interface LeaseCadence {
  /** Seconds between redemptions of a lease (default 300). */
  readonly redeemEverySeconds: number;
  /** Redeem at once when the held voucher's deadline is this close (seconds; default 600). */
  readonly deadlineMarginSeconds: number;
}

/** When each lease was last redeemed (chain seconds); in memory: a restart redeems at once. */
const lastRedeem = new WeakMap<LeaseRecord, bigint>();

export async function progressLeases(
  ctx: ProviderContext,
  cadence: LeaseCadence,
  now: bigint,
): Promise<void> {
  for (const lease of Object.values(ctx.state.record.leases)) {
    if (lease.phase === 'settled') continue;
    try {
      await stepLease(ctx, cadence, lease, now);
    } catch (e) {
      ctx.state.noteFailure(`lease ${lease.leaseId} (${lease.phase})`, e);
      ctx.log.error({ leaseId: lease.leaseId, err: e }, 'lease step failed; retried next tick');
    }
    await ctx.state.save();
  }
  try {
    await answerClaims(ctx, now);
  } catch (e) {
    ctx.state.noteFailure('claims', e);
    ctx.log.error({ err: e }, 'reading or answering claims failed; retried next tick');
  }
}

async function stepLease(
  ctx: ProviderContext,
  cadence: LeaseCadence,
  lease: LeaseRecord,
  now: bigint,
): Promise<void> {
  const { ch, sender } = ctx;
  const id = BigInt(lease.leaseId);
  const o = await ch.market.order(id);
  if (o.state === MarketState.Fulfilling) {
    // A round that cannot be requested or drawn (no eligible witnesses yet) does not hold up payment.
    try {
      await requestRounds(ctx, id, o, now);
    } catch (e) {
      ctx.state.noteFailure(`lease ${lease.leaseId} round`, e);
      ctx.log.warn(
        { leaseId: lease.leaseId, err: e },
        'witness round not requested or drawn; retried next tick',
      );
    }
    if (now >= o.startedAt + o.duration && o.pendingRounds === 0n)
      await sender.send(
        'Market.finish',
        () => ch.market.finish(id),
        async () => (await ch.market.order(id)).state !== MarketState.Fulfilling,
      );
  }
  let l = await ch.settlement.lease(id);
  if (l.status === SettlementLeaseStatus.Closed && lease.phase === 'serving') {
    lease.phase = 'closed';
    ctx.log.info({ leaseId: lease.leaseId }, 'lease closed: redeeming what is owed within the redeem window');
  }
  const v = lease.voucher;
  // Due before this tick's redemption moves the lease's clock: the probes' vouchers go with it.
  const leaseDue = due(lease, now, cadence);
  if (v && BigInt(v.cumulativeAmount) > l.paid && l.status !== SettlementLeaseStatus.Settled) {
    const deadline = deadlineOf(v);
    if (due(lease, now, cadence, deadline) && deadline >= now) {
      // The batch is kept before the voucher is redeemed: a claim on it may come as soon as it is.
      await ctx.state.keepBatch(lease.leaseId, v);
      await sender.send(
        'Settlement.redeem',
        () => ch.settlement.redeem(v.json.voucher as never, v.json.signature as string),
        async () => (await ch.settlement.lease(id)).paid >= BigInt(v.cumulativeAmount),
      );
      lastRedeem.set(lease, now);
      lease.redeemedBatches.push(`${v.firstNonce}-${v.lastNonce}`);
      ctx.log.info({ leaseId: lease.leaseId, cumulative: v.cumulativeAmount }, 'voucher redeemed');
      l = await ch.settlement.lease(id);
    }
  }
  if (l.status !== SettlementLeaseStatus.Settled) await redeemProbes(ctx, lease, now, leaseDue, cadence);
  if (l.paid > l.collected) {
    await sender.send(
      'Settlement.collect',
      () => ch.settlement.collect(id),
      async () => {
        const x = await ch.settlement.lease(id);
        return x.collected >= l.paid;
      },
    );
    l = await ch.settlement.lease(id);
  }
  lease.redeemed = l.paid.toString();
  lease.collected = l.collected.toString();
  if (l.status === SettlementLeaseStatus.Closed) {
    const until = l.closedAt + (await ch.settlement.redeemWindow());
    if (now > until && l.openClaims === 0n)
      await sender.send(
        'Settlement.settle',
        () => ch.settlement.settle(id),
        async () => (await ch.settlement.lease(id)).status === SettlementLeaseStatus.Settled,
      );
    l = await ch.settlement.lease(id);
  }
  if (l.status === SettlementLeaseStatus.Settled) {
    lease.phase = 'settled';
    lease.collected = l.collected.toString();
    ctx.log.info({ leaseId: lease.leaseId, paid: l.paid.toString() }, 'lease settled: collateral released');
  }
}

function deadlineOf(v: HeldVoucher): bigint {
  return BigInt((v.json.voucher as { deadline: string }).deadline);
}

/**
 * Whether a lease's vouchers are due for redemption: the lease closed, `redeemEverySeconds` passed
 * since the last, or (with `deadline`) a voucher's deadline is near.
 */
function due(lease: LeaseRecord, now: bigint, cadence: LeaseCadence, deadline?: bigint): boolean {
  return (
    lease.phase === 'closed' ||
    now >= (lastRedeem.get(lease) ?? 0n) + BigInt(cadence.redeemEverySeconds) ||
    (deadline !== undefined && deadline <= now + BigInt(cadence.deadlineMarginSeconds))
  );
}

/**
 * Redeems each probing witness's highest voucher with the customer's grant it was served under
 * (Settlement.redeemProbes pays the provider at once, within the grant's cap).
 */
async function redeemProbes(
  ctx: ProviderContext,
  lease: LeaseRecord,
  now: bigint,
  leaseDue: boolean,
  cadence: LeaseCadence,
): Promise<void> {
  const id = BigInt(lease.leaseId);
  for (const [witness, p] of Object.entries(lease.probes ?? {})) {
    const deadline = deadlineOf(p);
    if (deadline < now || !(leaseDue || deadline <= now + BigInt(cadence.deadlineMarginSeconds))) continue;
    const paid = await ctx.ch.settlement.probePaid(id, witness);
    if (paid >= BigInt(p.cumulativeAmount)) continue;
    const { signature, ...grant } = p.json.grant as Record<string, string>;
    await ctx.sender.send(
      'Settlement.redeemProbes',
      () =>
        ctx.ch.settlement.redeemProbes(
          grant as never,
          signature!,
          p.json.voucher as never,
          p.json.signature as string,
        ),
      async () => (await ctx.ch.settlement.probePaid(id, witness)) >= BigInt(p.cumulativeAmount),
    );
    ctx.log.info(
      { leaseId: lease.leaseId, witness, cumulative: p.cumulativeAmount },
      'probe voucher redeemed',
    );
  }
}

/** Requests the current epoch's round when due and draws the committee of a requested round. */
async function requestRounds(
  ctx: ProviderContext,
  id: bigint,
  o: { startedAt: bigint; epochLength: bigint; duration: bigint; nextRequest: bigint; epochs: bigint },
  now: bigint,
): Promise<void> {
  const { ch, sender } = ctx;
  if (o.epochLength === 0n || now < o.startedAt || now >= o.startedAt + o.duration) return;
  const epoch = (now - o.startedAt) / o.epochLength;
  if (epoch >= o.nextRequest && epoch < o.epochs) {
    await sender.send(
      'Market.requestRound',
      () => ch.market.requestRound(id),
      async () => (await ch.market.order(id)).nextRequest > epoch,
    );
    ctx.log.info({ leaseId: id.toString(), epoch: epoch.toString() }, 'witness round requested');
  }
  const roundId = await ch.pool.roundOf(id, epoch);
  if (roundId === 0n) return;
  const r = await ch.pool.round(roundId);
  if (r.phase !== WitnessPoolPhase.Requested) return;
  // Fewer eligible witnesses were frozen than the committee needs: drawing would revert every tick.
  if (r.frozenCount < r.size) {
    if (!ctx.unfilledRounds.has(roundId)) {
      ctx.unfilledRounds.add(roundId);
      ctx.log.warn(
        {
          leaseId: id.toString(),
          roundId: roundId.toString(),
          eligible: Number(r.frozenCount),
          size: Number(r.size),
        },
        'too few eligible witnesses for the round: its committee cannot be drawn',
      );
    }
    return;
  }
  const seedDelay = await ch.pool.seedDelay();
  if (BigInt(await ch.provider.getBlockNumber()) <= r.frozenBlock + seedDelay) return;
  await sender.send(
    'WitnessPool.drawCommittee',
    () => ch.pool.drawCommittee(roundId),
    async () => (await ch.pool.round(roundId)).phase !== WitnessPoolPhase.Requested,
  );
  ctx.log.info({ leaseId: id.toString(), roundId: roundId.toString() }, 'committee drawn');
}

/** Answers the open claims on this provider's leases with the receipt and records of the batch. */
async function answerClaims(ctx: ProviderContext, now: bigint): Promise<void> {
  const { ch, sender, state } = ctx;
  const count = await ch.settlement.claimCount();
  for (let id = BigInt(state.record.nextClaim); id <= count; id++) {
    const c = await ch.settlement.claim(id);
    const lease = state.record.leases[c.leaseId.toString()];
    // The cursor moves past a claim once it is handled (or not ours); a failure retries it next tick.
    const done = () => {
      state.record.nextClaim = (id + 1n).toString();
    };
    if (!lease || c.status !== SettlementClaimStatus.Open || now > c.deadline) {
      done();
      continue;
    }
    const key = `${c.firstNonce}-${c.lastNonce}`;
    const held = await state.batch(lease.leaseId, key);
    const j = held?.json;
    if (!j?.receipt || !j.records) {
      state.noteFailure(
        `claim ${id}`,
        new Error(`no receipt and records kept for batch ${c.firstNonce}-${c.lastNonce}`),
      );
      ctx.log.error(
        { claimId: id.toString(), leaseId: lease.leaseId, batch: `${c.firstNonce}-${c.lastNonce}` },
        'a claim on a batch whose receipt and records this provider does not hold: it cannot be answered',
      );
      done();
      continue;
    }
    await sender.send(
      'Settlement.answerClaim',
      () =>
        ch.settlement.answerClaim(id, j.receipt as never, j.receiptSignature as string, j.records as never),
      async () => (await ch.settlement.claim(id)).status !== SettlementClaimStatus.Open,
    );
    lease.claimsAnswered.push(id.toString());
    done();
    ctx.log.info({ claimId: id.toString(), leaseId: lease.leaseId }, 'claim answered with the batch receipt');
  }
  await state.save();
}

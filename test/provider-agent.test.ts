/*
 * The provider agent on a real anvil with a real executor: it registers the executor, bids sealed on
 * an order its level meets within its price policy, reveals, closes the bidding, confirms, serves the
 * lease to its customer, redeems the customer's latest voucher and collects; restarted on its state
 * directory it keeps its enclave and registration and redeems what it is owed. The agent's ticks are
 * driven by the test (`tick()`), with anvil's clock moved between them.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBytes, hexlify, parseEther, randomBytes, Wallet } from 'ethers';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSimulatedRoot } from '../attestation/simulated.js';
import { SIMULATED_MR_TD, simulatedDevPolicy } from '../cli/commands/executor.js';
import { ProviderAgent } from '../cli/provider/agent.js';
import type { BidPolicy } from '../cli/provider/bid-policy.js';
import { prepareEnclave } from '../cli/provider/enclave.js';
import { providerStatus } from '../cli/provider/status.js';
import { settlementLeaseCheck } from '../cli/settlement-lease-check.js';
import {
  bidCommitment,
  MarketState,
  RegistryTeeType,
  SettlementClaimStatus,
  SettlementLeaseStatus,
} from '../contracts/bindings/index.js';
import { PaddedWallet } from '../contracts/deploy.js';
import { type Chain, LEVEL, startChain } from '../contracts/test/chain-fixture.js';
import { Executor } from '../enclave-host/executor.js';
import { SimulatedQuoteProvider } from '../enclave-host/quote/simulated.js';
import { FunctionRuntime } from '../enclave-host/runtime/function-runtime.js';
import { buildExample } from '../examples/build-example.js';
import { signProbeGrant } from '../protocol/probe-grant.js';
import { connect, invokeMany, LocalReceiptStore } from '../sdk/index.js';

const PRICE_PER_CALL = 10n ** 15n;
const MAX_UNIT_PRICE = parseEther('0.001');
/** The executor's specs, stake and price policy, and a silent log. */
const AGENT_TERMS = {
  specs: { cpuCores: 2, memoryMiB: 1024, gpuMemoryMiB: 0, gflops: 10, teeType: RegistryTeeType.Simulated },
  stake: parseEther('2000'),
  log: pino({ level: 'silent' }),
} as const;

const POLICY: BidPolicy = {
  minUnitPrice: MAX_UNIT_PRICE / 10n,
  fraction: 0.8,
  levels: [],
  maxLeases: 2,
  claimedGflops: 5,
};

describe('provider agent (anvil)', () => {
  let ch: Chain;
  let dir: string;
  let wallet: PaddedWallet;
  const root = generateSimulatedRoot();
  const tee = new SimulatedQuoteProvider(root, { measurements: { mrTd: SIMULATED_MR_TD } });
  let executor: Executor | undefined;
  let agent: ProviderAgent | undefined;
  let endpoint = '';
  const store = new LocalReceiptStore();
  /** anvil's clock less the wall clock, ms (set before probing). */
  let chainOffsetMs = 0;

  async function startAll(): Promise<{ agent: ProviderAgent; executor: Executor }> {
    const enclave = await prepareEnclave(tee, dir, true);
    const domain = {
      chainId: BigInt(ch.deployment.chainId),
      verifyingContract: ch.deployment.contracts.settlement,
    };
    const ex = new Executor({
      quotes: enclave.quotes,
      identity: enclave.identity,
      runtime: new FunctionRuntime({
        workers: 1,
        limits: {
          memoryBytes: 16 * 2 ** 20,
          wallTimeMs: 5_000,
          maxInputBytes: 65_536,
          maxOutputBytes: 65_536,
        },
      }),
      logger: pino({ level: 'silent' }),
      stateDir: dir,
      leaseId: 0n,
      domain,
      pricePerCall: PRICE_PER_CALL,
      // Probe grants are judged on the chain's clock, which the test moves ahead of the wall clock.
      leaseCheck: settlementLeaseCheck(ch.c.settlement, {
        domain,
        market: ch.c.market,
        now: () => Date.now() + chainOffsetMs,
      }),
      onVoucher: (v) => agent?.takeVoucher(v),
    });
    const port = await ex.start(endpoint === '' ? '127.0.0.1:0' : endpoint);
    endpoint = `127.0.0.1:${port}`;
    const a = await ProviderAgent.create({
      signer: wallet,
      deployment: ch.deployment,
      stateDir: dir,
      enclave,
      endpoint,
      ...AGENT_TERMS,
      policy: POLICY,
      tx: { baseDelayMs: 20, maxAttempts: 3 },
      // The test drives the ticks (after the first, which start() schedules at once).
      pollMs: 3_600_000,
    });
    return { agent: a, executor: ex };
  }

  async function postOrder(maxUnitPrice: bigint): Promise<bigint> {
    await ch.tx(
      'postOrder',
      ch.c.market.connect(ch.customer.signer).postOrder({
        levelId: LEVEL,
        duration: 1000n,
        maxUnitPrice,
        biddingWindow: ch.params.minBiddingWindow,
        committeeSize: 3,
        majority: 2,
        availabilityBps: 9900,
        p95LatencyMs: 500,
        epochLength: 500n,
      }),
    );
    return ch.c.market.orderCount();
  }

  /** A session to the lease's executor as the chain names it (enclave and evidence pinned), sha256 deployed. */
  async function leaseSession(receipts: 'batched' | 'per-call') {
    const lease = await ch.c.settlement.lease(leaseId);
    const e = await ch.c.registry.executor(lease.executorId);
    const session = await connect(e.endpoint, {
      policy: simulatedDevPolicy(root),
      leaseId,
      domain: {
        chainId: BigInt(ch.deployment.chainId),
        verifyingContract: ch.deployment.contracts.settlement,
      },
      identity: { address: lease.enclave, evidenceHash: e.evidenceHash },
      receipts,
      store,
      voucherTtlSeconds: 86_400,
    });
    return { session, fn: await session.deploy(await buildExample('sha256')) };
  }

  /** The customer calls sha256 on its lease once per input, batched. */
  async function callLease(inputs: number[]): Promise<void> {
    const { session, fn } = await leaseSession('batched');
    const results = await invokeMany(
      session,
      fn,
      inputs.map((i) => new Uint8Array([i])),
      { wallet: ch.customer.wallet },
    );
    await session.close();
    expect(results.every((r) => r.ok)).toBe(true);
  }

  beforeAll(async () => {
    // One fixture provider (executor #1) competes in the runner-up test.
    ch = await startChain({ providers: 1, witnesses: 0 });
    dir = await mkdtemp(join(tmpdir(), 'defaas-provider-'));
    wallet = new PaddedWallet(
      '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
      ch.provider,
    );
    await ch.provider.send('anvil_setBalance', [wallet.address, '0x3635C9ADC5DEA00000']);
    await ch.tx('fund', ch.c.token.connect(ch.deployer.signer).transfer(wallet.address, parseEther('5000')));
  }, 120_000);

  afterAll(async () => {
    await agent?.stop().catch(() => {});
    await executor?.stop(0).catch(() => {});
    await ch?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  let leaseId = 0n;

  it('registers the executor with its enclave, evidence hash and endpoint', async () => {
    ({ agent, executor } = await startAll());
    const reg = await agent.start();
    await agent.tick();
    expect(reg.status).toBe('registered');
    const e = await ch.c.registry.executor(reg.executorId);
    expect(e.enclave.toLowerCase()).toBe(executor.identity.identityAddress.toLowerCase());
    expect(e.endpoint).toBe(endpoint);
    expect(e.provider).toBe(wallet.address);
  }, 60_000);

  it('skips an order whose cap is below its floor, bids on one it takes, reveals, closes and confirms', async () => {
    const cheap = await postOrder(POLICY.minUnitPrice - 1n);
    leaseId = await postOrder(MAX_UNIT_PRICE);
    await agent!.tick();
    const bids = agent!.state.record.bids;
    expect(bids[cheap.toString()]).toBeUndefined();
    expect(bids[leaseId.toString()]?.phase).toBe('committed');
    expect(bids[leaseId.toString()]?.unitPrice).toBe(((MAX_UNIT_PRICE * 8n) / 10n).toString());
    // The salt was on disk with the bid.
    const onDisk = JSON.parse(await readFile(join(dir, 'provider.json'), 'utf8'));
    expect(onDisk.bids[leaseId.toString()].salt).toBe(bids[leaseId.toString()]!.salt);

    await ch.advance(ch.params.minBiddingWindow);
    await agent!.tick();
    expect(bids[leaseId.toString()]?.phase).toBe('revealed');
    await ch.advance(ch.params.bidRevealWindow);
    await agent!.tick(); // closes the bidding
    await agent!.tick(); // confirms
    expect(bids[leaseId.toString()]?.phase).toBe('confirmed');
    const o = await ch.c.market.order(leaseId);
    expect(o.state).toBe(MarketState.Deploying);
    expect((await ch.c.settlement.lease(leaseId)).status).toBe(SettlementLeaseStatus.Open);
    expect(agent!.state.record.leases[leaseId.toString()]?.phase).toBe('serving');
  }, 60_000);

  it('attack: an order whose collateral the free stake cannot cover gets no bid (its bond would go to the customer)', async () => {
    // 1 DFS/s for 1000 s: won at 0.8, confirming would lock (0.8 + 1) × 1000 = 1800 DFS; 1000 are free.
    const greedy = await postOrder(parseEther('1'));
    await agent!.tick();
    expect(agent!.state.record.bids[greedy.toString()]).toBeUndefined();
    expect((await ch.c.market.order(greedy)).bidCount).toBe(0n);
  }, 30_000);

  it('serves the lease to its customer, redeems the latest voucher and collects', async () => {
    await ch.tx('startLease', ch.c.market.connect(ch.customer.signer).startLease(leaseId));
    await callLease([1, 2, 3, 4, 5]);
    const before = await ch.c.token.balanceOf(wallet.address);
    await agent!.tick();
    const after = await ch.c.token.balanceOf(wallet.address);
    expect(after - before).toBe(5n * PRICE_PER_CALL);
    expect((await ch.c.settlement.lease(leaseId)).paid).toBe(5n * PRICE_PER_CALL);
    const s = await providerStatus(dir);
    expect(s.leases[0]).toMatchObject({
      leaseId: leaseId.toString(),
      redeemed: (5n * PRICE_PER_CALL).toString(),
    });
  }, 60_000);

  it('restarted on its state directory keeps its enclave and registration and redeems what it is owed', async () => {
    const enclaveBefore = executor!.identity.identityAddress;
    await agent!.stop();
    await executor!.stop(0);
    ({ agent, executor } = await startAll());
    expect(executor.identity.identityAddress).toBe(enclaveBefore);
    expect((await agent.start()).status).toBe('reused');
    await agent.tick();
    expect(agent.state.record.leases[leaseId.toString()]?.phase).toBe('serving');
    await callLease([6, 7, 8]);
    await agent.tick();
    // No witness is registered on this chain: the epoch's round is requested but not drawn, and nothing failed.
    expect(agent.state.record.failures).toEqual([]);
    expect(await ch.c.witnessPool.roundOf(leaseId, 0n)).not.toBe(0n);
    expect((await ch.c.settlement.lease(leaseId)).paid).toBe(8n * PRICE_PER_CALL);
  }, 60_000);

  it("answers the customer's claim on a redeemed batch with its enclave-signed receipt and records", async () => {
    const held = agent!.state.record.leases[leaseId.toString()]!.voucher!;
    const v = held.json.voucher as { firstNonce: string; lastNonce: string; requestHead: string };
    await ch.tx(
      'openClaim',
      ch.c.settlement
        .connect(ch.customer.signer)
        .openClaim(leaseId, v.firstNonce, v.lastNonce, v.requestHead, v.lastNonce),
    );
    const claimId = await ch.c.settlement.claimCount();
    await agent!.tick();
    expect((await ch.c.settlement.claim(claimId)).status).toBe(SettlementClaimStatus.Answered);
    expect(agent!.state.record.leases[leaseId.toString()]!.claimsAnswered).toEqual([claimId.toString()]);
  }, 30_000);

  it("redeems a probing witness's vouchers with the customer's grant it was served under", async () => {
    const o = await ch.c.market.order(leaseId);
    const nowS = await ch.now();
    chainOffsetMs = Number(nowS) * 1000 - Date.now();
    const domain = {
      chainId: BigInt(ch.deployment.chainId),
      verifyingContract: ch.deployment.contracts.settlement,
    };
    const witness = new Wallet(Wallet.createRandom().privateKey);
    const grant = signProbeGrant(getBytes(ch.customer.wallet.privateKey), domain, {
      leaseId,
      witness: witness.address,
      epoch: (nowS - o.startedAt) / o.epochLength,
      maxCalls: 3n,
      maxAmount: 3n * PRICE_PER_CALL,
      expiry: nowS + 3600n,
    });
    const { session, fn } = await leaseSession('per-call');
    for (const i of [1, 2]) await session.invoke(fn, new Uint8Array([i]), { wallet: witness, grant });
    await session.close();
    const held = agent!.state.record.leases[leaseId.toString()]!.probes?.[witness.address.toLowerCase()];
    expect(held?.cumulativeAmount).toBe((2n * PRICE_PER_CALL).toString());
    const before = await ch.c.token.balanceOf(wallet.address);
    await ch.advance(301); // the redemption cadence
    await agent!.tick();
    expect(await ch.c.settlement.probePaid(leaseId, witness.address)).toBe(2n * PRICE_PER_CALL);
    expect((await ch.c.token.balanceOf(wallet.address)) - before).toBe(2n * PRICE_PER_CALL);
    // A probe voucher with no grant (a wallet that is not the customer, on its own) is never kept.
    expect(Object.keys(agent!.state.record.leases[leaseId.toString()]!.probes ?? {})).toEqual([
      witness.address.toLowerCase(),
    ]);
  }, 60_000);

  it('as runner-up, takes the lease that a lower bidder won and never confirmed', async () => {
    const rival = ch.providers[0]!;
    const orderId = await postOrder(MAX_UNIT_PRICE);
    await agent!.tick();
    const ours = agent!.state.record.bids[orderId.toString()]!;
    expect(ours.phase).toBe('committed');
    // The rival bids lower, reveals, wins, and then stays silent.
    const price = MAX_UNIT_PRICE / 2n;
    const salt = hexlify(randomBytes(32));
    const market = await ch.c.market.getAddress();
    await ch.tx(
      'rival commit',
      ch.c.market
        .connect(rival.signer)
        .commitBid(
          orderId,
          ch.executorIds[0]!,
          bidCommitment(BigInt(ch.deployment.chainId), market, orderId, rival.address, price, 50, salt),
        ),
    );
    const rivalIndex = (await ch.c.market.order(orderId)).bidCount - 1n;
    await ch.advance(ch.params.minBiddingWindow);
    await agent!.tick();
    await ch.tx(
      'rival reveal',
      ch.c.market.connect(rival.signer).revealBid(orderId, rivalIndex, price, 50, salt),
    );
    await ch.advance(ch.params.bidRevealWindow);
    await agent!.tick(); // closes the bidding: the rival is offered the lease
    await agent!.tick();
    expect((await ch.c.market.order(orderId)).winner).toBe(rivalIndex);
    expect(ours.phase).toBe('lost');
    await ch.advance(ch.params.confirmWindow);
    await agent!.tick(); // the offer expired: the runner-up (us) is offered the lease
    await agent!.tick(); // confirms
    expect(ours.phase).toBe('confirmed');
    const o = await ch.c.market.order(orderId);
    expect(o.state).toBe(MarketState.Deploying);
    expect(o.price).toBe(BigInt(ours.unitPrice));
    expect((await ch.c.settlement.lease(orderId)).provider).toBe(wallet.address);
  }, 60_000);

  it('refuses a state directory of another provider, and a damaged state file', async () => {
    await agent!.stop();
    agent = undefined;
    const other = new PaddedWallet(
      '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
      ch.provider,
    );
    const enclave = await prepareEnclave(tee, dir, true);
    const opts = {
      deployment: ch.deployment,
      stateDir: dir,
      enclave,
      endpoint,
      ...AGENT_TERMS,
      policy: POLICY,
    };
    await expect(ProviderAgent.create({ ...opts, signer: other })).rejects.toMatchObject({
      code: 'STATE_MISMATCH',
    });
    const path = join(dir, 'provider.json');
    const good = await readFile(path, 'utf8');
    await writeFile(path, good.slice(0, good.length / 2));
    await expect(ProviderAgent.create({ ...opts, signer: wallet })).rejects.toMatchObject({
      code: 'STATE_CORRUPT',
    });
    await writeFile(path, good);
  }, 30_000);
});

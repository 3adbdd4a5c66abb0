/*
 * Test and gas-report fixture: a fresh anvil, the contracts deployed with TEST_PARAMS, funded actors
 * (each executor registered with its enclave's proof of possession), and drivers for each step of the
 * lease lifecycle written against the typed bindings: auction with SLA terms, confirm and start, one
 * witness round per epoch (request, draw, commit, reveal with an evidence hash, finalize), vouchers
 * redeemed by the provider, receipts answering claims.
 */
import {
  type ContractTransactionResponse,
  JsonRpcProvider,
  keccak256,
  parseEther,
  Signature,
  SigningKey,
  toUtf8Bytes,
  Wallet,
  ZeroHash,
} from 'ethers';
import { type Anvil, startAnvil } from '../anvil.js';
import {
  bidCommitment,
  defaasErrors,
  RegistryTeeType,
  verdictCommitment,
  WitnessPoolPhase,
  WitnessPoolVerdict,
} from '../bindings/index.js';
import {
  type ChainParams,
  type Contracts,
  type Deployment,
  deployAll,
  PaddedWallet,
  TEST_PARAMS,
} from '../deploy.js';

export const ANVIL_DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';

export interface Actor {
  readonly wallet: PaddedWallet;
  /** The wallet itself: no NonceManager, which burns a nonce when estimation reverts. */
  readonly signer: PaddedWallet;
  readonly address: string;
}

export interface Chain {
  readonly anvil: Anvil;
  readonly provider: JsonRpcProvider;
  readonly deployment: Deployment;
  readonly c: Contracts;
  readonly params: ChainParams;
  readonly deployer: Actor;
  readonly customer: Actor;
  readonly providers: Actor[];
  /** The enclave identity key of each provider's executor (signs its registration and receipts). */
  readonly enclaves: Wallet[];
  readonly executorIds: bigint[];
  readonly witnesses: Actor[];
  /** gasUsed of every mined transaction, by label. */
  readonly gas: Map<string, bigint[]>;
  /** Every mined transaction in order. */
  readonly txLog: { label: string; gas: bigint }[];
  /** Sends, waits, records gas under `label`; rejects with the decoded custom error name. */
  tx(label: string, send: Promise<ContractTransactionResponse>): Promise<bigint>;
  /** Moves block time forward by `seconds` and mines one block. */
  advance(seconds: bigint | number): Promise<void>;
  /** Mines one block at `timestamp` (which must be later than the latest block). */
  advanceTo(timestamp: bigint): Promise<void>;
  mine(blocks: number): Promise<void>;
  now(): Promise<bigint>;
  stop(): Promise<void>;
}

export const LEVEL = 1n; // sim-small: 1 core, 512 MiB, min 1 GFLOP/s, simulated TEE
export const DURATION = 1000n;
/** The SLA terms of every order: 2 epochs of 500 s over DURATION. */
export const EPOCH_LENGTH = 500n;
export const AVAILABILITY_BPS = 9900;
export const P95_LATENCY_MS = 500;
export const MAX_PRICE = parseEther('0.001');
/** Each executor's stake at registration: five leases' collateral (`minProviderStake`) at once. */
export const PROVIDER_STAKE = parseEther('5000');
export const WITNESS_STAKE = parseEther('200');
/** The GFLOP/s every bid claims (the level's minimum is 1). */
export const CLAIMED_GFLOPS = 50;

function actorKey(label: string): string {
  return keccak256(toUtf8Bytes(`defaas test actor ${label}`));
}

/** The name of the custom error behind a revert, or the message. */
export function revertName(e: unknown): string {
  const data = (e as { data?: string; info?: { error?: { data?: string } } }).data;
  if (typeof data === 'string' && data.length >= 10) {
    const parsed = defaasErrors.parseError(data);
    if (parsed) return parsed.name;
  }
  return e instanceof Error ? e.message : String(e);
}

/** What executor `i` registers: its evidence hash and endpoint. */
export function executorSpec(enclave: string, i: number) {
  return {
    enclave,
    cpuCores: 2,
    memoryMiB: 1024,
    gpuMemoryMiB: 0,
    gflops: CLAIMED_GFLOPS,
    teeType: RegistryTeeType.Simulated,
    evidenceHash: keccak256(toUtf8Bytes(`evidence ${i}`)),
    endpoint: `127.0.0.1:${7000 + i}`,
  };
}

/**
 * The enclave's proof of possession: its signature over `Registry.registrationDigest(provider,
 * evidenceHash, endpoint)` (the EIP-712 `EnclaveRegistration`; `protocol/registration.ts` computes the
 * same digest, checked in test/contracts-typed-data.test.ts).
 */
export async function registrationProof(
  c: Contracts,
  enclave: Wallet,
  provider: string,
  evidenceHash: string,
  endpoint: string,
): Promise<string> {
  const digest = await c.registry.registrationDigest(provider, evidenceHash, endpoint);
  return Signature.from(enclave.signingKey.sign(digest)).serialized;
}

export async function startChain(
  opts: { providers?: number; witnesses?: number; params?: ChainParams } = {},
): Promise<Chain> {
  const anvil = await startAnvil();
  const provider = new JsonRpcProvider(anvil.url, undefined, {
    staticNetwork: true,
    cacheTimeout: -1,
    pollingInterval: 50,
  });
  const params = opts.params ?? TEST_PARAMS;
  const actor = (key: string): Actor => {
    const wallet = new PaddedWallet(key, provider);
    return { wallet, signer: wallet, address: wallet.address };
  };
  const deployer = actor(ANVIL_DEV_KEY);
  const { deployment, contracts: c } = await deployAll(deployer.signer, anvil.url, { params });
  const gas = new Map<string, bigint[]>();
  const txLog: { label: string; gas: bigint }[] = [];
  const tx = async (label: string, send: Promise<ContractTransactionResponse>): Promise<bigint> => {
    let r: Awaited<ReturnType<ContractTransactionResponse['wait']>>;
    try {
      r = await (await send).wait();
    } catch (e) {
      throw new Error(revertName(e), { cause: e });
    }
    const used = r!.gasUsed;
    gas.set(label, [...(gas.get(label) ?? []), used]);
    txLog.push({ label, gas: used });
    return used;
  };
  const customer = actor(actorKey('customer'));
  const providers: Actor[] = [];
  const enclaves: Wallet[] = [];
  const executorIds: bigint[] = [];
  const witnesses: Actor[] = [];

  const fund = async (a: Actor) => {
    await provider.send('anvil_setBalance', [a.address, '0x3635C9ADC5DEA00000']);
    await tx('setup', c.token.connect(deployer.signer).transfer(a.address, parseEther('100000')));
    for (const spender of [c.registry, c.market, c.settlement]) {
      await tx('setup', c.token.connect(a.signer).approve(spender, 2n ** 256n - 1n));
    }
  };
  await fund(customer);
  for (let i = 0; i < (opts.providers ?? 5); i++) {
    const p = actor(actorKey(`provider ${i}`));
    const enclave = new Wallet(actorKey(`enclave ${i}`));
    await fund(p);
    const spec = executorSpec(enclave.address, i);
    const proof = await registrationProof(c, enclave, p.address, spec.evidenceHash, spec.endpoint);
    await tx(
      'Registry.registerExecutor',
      c.registry.connect(p.signer).registerExecutor(spec, PROVIDER_STAKE, proof),
    );
    providers.push(p);
    enclaves.push(enclave);
    executorIds.push(await c.registry.executorOfEnclave(enclave.address));
  }
  for (let i = 0; i < (opts.witnesses ?? 7); i++) {
    const w = actor(actorKey(`witness ${i}`));
    await fund(w);
    await tx('Registry.registerWitness', c.registry.connect(w.signer).registerWitness(WITNESS_STAKE));
    witnesses.push(w);
  }
  const mine = async (blocks: number) => {
    await provider.send('anvil_mine', [`0x${blocks.toString(16)}`]);
  };
  const now = async () => BigInt((await provider.getBlock('latest'))!.timestamp);
  const chain: Chain = {
    anvil,
    provider,
    deployment,
    c,
    params,
    deployer,
    customer,
    providers,
    enclaves,
    executorIds,
    witnesses,
    gas,
    txLog,
    tx,
    async advance(seconds) {
      await provider.send('evm_increaseTime', [Number(seconds)]);
      await mine(1);
    },
    async advanceTo(timestamp) {
      await provider.send('evm_setNextBlockTimestamp', [Number(timestamp)]);
      await mine(1);
    },
    mine,
    now,
    async stop() {
      provider.destroy();
      await anvil.stop();
    },
  };
  return chain;
}

// ------------------------------------------------------------------ lifecycle drivers

export function salt(label: string): string {
  return keccak256(toUtf8Bytes(label));
}

/** Moves to `timestamp` unless the chain is already there. */
export async function atLeast(ch: Chain, timestamp: bigint): Promise<void> {
  if ((await ch.now()) < timestamp) await ch.advanceTo(timestamp);
}

/** The provider actor behind an address (throws for an address that is not one of ch.providers). */
export function providerOf(ch: Chain, address: string): Actor {
  const p = ch.providers.find((x) => x.address === address);
  if (!p) throw new Error(`${address} is not a fixture provider`);
  return p;
}

export interface AuctionOptions {
  readonly size?: number;
  readonly majority?: number;
  /** Bid indexes that reveal (default: all). */
  readonly reveal?: readonly number[];
  /** Provider index of each bid (default: bid i by provider i). */
  readonly bidders?: readonly number[];
  readonly duration?: bigint;
  readonly epochLength?: bigint;
}

/**
 * Posts an order with the SLA terms (availability 99 %, p95 latency 500 ms, epochs of EPOCH_LENGTH),
 * has providers[bidders[i]] bid prices[i] (each posting the order's bid bond), reveals all (or those in
 * `reveal`) and closes bidding; returns the order id.
 */
export async function auction(
  ch: Chain,
  prices: readonly bigint[],
  opts: AuctionOptions = {},
): Promise<bigint> {
  const { c } = ch;
  const market = c.market.connect(ch.customer.signer);
  const orderId = (await c.market.orderCount()) + 1n;
  await ch.tx(
    'Market.postOrder',
    market.postOrder({
      levelId: LEVEL,
      duration: opts.duration ?? DURATION,
      maxUnitPrice: MAX_PRICE,
      biddingWindow: 50n,
      committeeSize: opts.size ?? 3,
      majority: opts.majority ?? 2,
      availabilityBps: AVAILABILITY_BPS,
      p95LatencyMs: P95_LATENCY_MS,
      epochLength: opts.epochLength ?? EPOCH_LENGTH,
    }),
  );
  const bidder = (i: number) => opts.bidders?.[i] ?? i;
  for (const [i, price] of prices.entries()) {
    const p = ch.providers[bidder(i)]!;
    // computed locally: the view would show the sealed price to the RPC node
    const commitment = bidCommitment(
      BigInt(ch.deployment.chainId),
      ch.deployment.contracts.market,
      orderId,
      p.address,
      price,
      CLAIMED_GFLOPS,
      salt(`bid ${orderId} ${i}`),
    );
    await ch.tx(
      'Market.commitBid',
      c.market.connect(p.signer).commitBid(orderId, ch.executorIds[bidder(i)]!, commitment),
    );
  }
  const o = await c.market.order(orderId);
  await atLeast(ch, o.bidDeadline);
  for (const [i, price] of prices.entries()) {
    if (opts.reveal && !opts.reveal.includes(i)) continue;
    const p = ch.providers[bidder(i)]!;
    await ch.tx(
      'Market.revealBid',
      c.market.connect(p.signer).revealBid(orderId, i, price, CLAIMED_GFLOPS, salt(`bid ${orderId} ${i}`)),
    );
  }
  await atLeast(ch, o.revealDeadline);
  await ch.tx('Market.closeBidding', market.closeBidding(orderId));
  return orderId;
}

/** The offered bidder confirms (locking its collateral), the customer starts; returns the start time. */
export async function startLease(ch: Chain, orderId: bigint): Promise<bigint> {
  const { c } = ch;
  const o = await c.market.order(orderId);
  const winner = providerOf(ch, (await c.market.bid(orderId, o.winner)).bidder);
  await ch.tx(
    'Market.confirmLease',
    c.market.connect(winner.signer).confirmLease(orderId, 'grpc://127.0.0.1:7000'),
  );
  await ch.tx('Market.startLease', c.market.connect(ch.customer.signer).startLease(orderId));
  return (await c.market.order(orderId)).startedAt;
}

/**
 * Requests the witness round of the lease's next unrequested epoch: moves to that epoch's start if the
 * chain is not there yet, sends `Market.requestRound` and (unless `draw` is false) draws the committee
 * once the seed block is mined. Returns the round id (`WitnessPool.roundOf(orderId, epoch)`).
 */
export async function requestRound(
  ch: Chain,
  orderId: bigint,
  opts: { draw?: boolean } = {},
): Promise<bigint> {
  const { c } = ch;
  const o = await c.market.order(orderId);
  await atLeast(ch, o.startedAt + o.nextRequest * o.epochLength);
  await ch.tx('Market.requestRound', c.market.requestRound(orderId));
  const epoch = (await c.market.order(orderId)).nextRequest - 1n;
  const roundId = await c.witnessPool.roundOf(orderId, epoch);
  if (opts.draw !== false) await drawRound(ch, roundId);
  return roundId;
}

/** Mines past the round's seed block and draws its committee; returns the members. */
export async function drawRound(ch: Chain, roundId: bigint): Promise<string[]> {
  const { c } = ch;
  const seedBlock = (await c.witnessPool.round(roundId)).seedBlock;
  const head = BigInt(await ch.provider.getBlockNumber());
  // the draw's own block must come after the seed block
  if (head < seedBlock) await ch.mine(Number(seedBlock - head));
  await ch.tx('WitnessPool.drawCommittee', c.witnessPool.drawCommittee(roundId));
  return [...(await c.witnessPool.committee(roundId))];
}

/** The hash of the evidence bundle a witness reveals with its verdict. */
export function evidenceHash(roundId: bigint, witness: string): string {
  return salt(`evidence bundle ${roundId} ${witness}`);
}

function verdictSalt(roundId: bigint, witness: string): string {
  return salt(`w ${roundId} ${witness}`);
}

/**
 * Plays a round: draws it if it is still only requested, then the i-th member commits `verdicts[i]`
 * (default Ok) with `violationTime` and its evidence hash before the commit deadline, reveals it in the
 * reveal window (`null`: commits Ok but never reveals, so the round waits for the reveal deadline) and
 * anyone finalizes. Returns the members.
 */
export async function playRound(
  ch: Chain,
  roundId: bigint,
  verdicts: readonly (WitnessPoolVerdict | null)[],
  violationTime = 0n,
): Promise<string[]> {
  const { c } = ch;
  if ((await c.witnessPool.round(roundId)).phase === WitnessPoolPhase.Requested) await drawRound(ch, roundId);
  const members = [...(await c.witnessPool.committee(roundId))];
  const byAddress = new Map(ch.witnesses.map((w) => [w.address, w]));
  const { leaseId, commitDeadline } = await c.witnessPool.round(roundId);
  const verdictOf = (i: number) => verdicts[i] ?? WitnessPoolVerdict.Ok;
  for (const [i, m] of members.entries()) {
    const commitment = verdictCommitment(
      BigInt(ch.deployment.chainId),
      ch.deployment.contracts.witnessPool,
      leaseId,
      roundId,
      m,
      verdictOf(i),
      violationTime,
      evidenceHash(roundId, m),
      verdictSalt(roundId, m),
    );
    await ch.tx(
      'WitnessPool.commitVerdict',
      c.witnessPool.connect(byAddress.get(m)!.signer).commitVerdict(roundId, commitment),
    );
  }
  await atLeast(ch, commitDeadline);
  for (const [i, m] of members.entries()) {
    if (verdicts[i] === null) continue;
    await ch.tx(
      'WitnessPool.revealVerdict',
      c.witnessPool
        .connect(byAddress.get(m)!.signer)
        .revealVerdict(
          roundId,
          verdictOf(i),
          violationTime,
          evidenceHash(roundId, m),
          verdictSalt(roundId, m),
        ),
    );
  }
  if (verdicts.some((v) => v === null)) await atLeast(ch, await c.witnessPool.revealDeadline(roundId));
  await ch.tx('WitnessPool.finalize', c.witnessPool.finalize(roundId));
  return members;
}

/** `n` members that all report `v` (default Ok). */
export function allSay(n: number, v: WitnessPoolVerdict = WitnessPoolVerdict.Ok): WitnessPoolVerdict[] {
  return Array<WitnessPoolVerdict>(n).fill(v);
}

/** Call record, voucher and receipt: the shapes of protocol/typed-data.ts (contracts/ may not import it). */
export interface CallRecord {
  readonly nonce: bigint;
  readonly functionHash: string;
  readonly inputHash: string;
  readonly outputHash: string;
  readonly usage: bigint;
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

export interface Domain {
  readonly chainId: bigint;
  readonly verifyingContract: string;
}

/**
 * How digests and chain heads are computed. The default asks the Settlement contract (its views);
 * tests under test/ pass protocol/typed-data.ts so the signatures come from the canonical TS code.
 */
export interface Codec {
  voucherDigest(domain: Domain, v: Voucher): string | Promise<string>;
  receiptDigest(domain: Domain, r: Receipt): string | Promise<string>;
  chainHeads(
    records: readonly CallRecord[],
    firstNonce: bigint,
    lastNonce: bigint,
  ): { requestHead: string; recordHead: string } | Promise<{ requestHead: string; recordHead: string }>;
}

export function contractCodec(ch: Chain): Codec {
  return {
    voucherDigest: (_d, v) => ch.c.settlement.voucherDigest(v),
    receiptDigest: (_d, r) => ch.c.settlement.receiptDigest(r),
    chainHeads: async (records) => {
      const [requestHead, recordHead] = await ch.c.settlement.chainHeads([...records]);
      return { requestHead, recordHead };
    },
  };
}

export function records(first: bigint, count: number, label = 'call'): CallRecord[] {
  return Array.from({ length: count }, (_, k) => ({
    nonce: first + BigInt(k),
    functionHash: salt(`${label} fn`),
    inputHash: salt(`${label} in ${k}`),
    outputHash: salt(`${label} out ${k}`),
    usage: 1000n + BigInt(k),
    price: 10n ** 12n,
  }));
}

export function domain(ch: Chain): Domain {
  return { chainId: BigInt(ch.deployment.chainId), verifyingContract: ch.deployment.contracts.settlement };
}

/** A customer-signed voucher over a batch of records (typed-data.ts digest, signed locally). */
export async function signedVoucher(
  ch: Chain,
  leaseId: bigint,
  batch: readonly CallRecord[],
  cumulativeAmount: bigint,
  codec: Codec = contractCodec(ch),
  key: string = ch.customer.wallet.privateKey,
): Promise<{ voucher: Voucher; signature: string }> {
  const first = batch[0]!.nonce;
  const last = batch[batch.length - 1]!.nonce;
  const { requestHead } = await codec.chainHeads(batch, first, last);
  const voucher: Voucher = {
    leaseId,
    firstNonce: first,
    lastNonce: last,
    requestHead,
    cumulativeAmount,
    deadline: (await ch.now()) + 10_000n,
  };
  const signature = new SigningKey(key).sign(await codec.voucherDigest(domain(ch), voucher)).serialized;
  return { voucher, signature };
}

/** An enclave-signed receipt over a batch. */
export async function signedReceipt(
  ch: Chain,
  leaseId: bigint,
  batch: readonly CallRecord[],
  enclave: Wallet,
  codec: Codec = contractCodec(ch),
): Promise<{ receipt: Receipt; signature: string }> {
  const first = batch[0]!.nonce;
  const last = batch[batch.length - 1]!.nonce;
  const { recordHead } = await codec.chainHeads(batch, first, last);
  const receipt: Receipt = {
    leaseId,
    firstNonce: first,
    lastNonce: last,
    recordHead,
    evidenceHash: ZeroHash,
    startedAt: 1n,
    finishedAt: 2n,
  };
  const signature = Signature.from(
    enclave.signingKey.sign(await codec.receiptDigest(domain(ch), receipt)),
  ).serialized;
  return { receipt, signature };
}

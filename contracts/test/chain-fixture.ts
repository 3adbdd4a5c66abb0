/*
 * Test and gas-report fixture: a fresh anvil, the contracts deployed with TEST_PARAMS, funded actors,
 * and drivers for each step of the lease lifecycle written against the typed bindings.
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
  mine(blocks: number): Promise<void>;
  now(): Promise<bigint>;
  stop(): Promise<void>;
}

export const LEVEL = 1n; // sim-small: 1 core, 512 MiB, min 1 GFLOP/s, simulated TEE
export const DURATION = 1000n;
export const MAX_PRICE = parseEther('0.001');

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
    const reg = c.registry.connect(p.signer);
    await tx(
      'Registry.registerExecutor',
      reg.registerExecutor(
        {
          enclave: enclave.address,
          cpuCores: 2,
          memoryMiB: 1024,
          gpuMemoryMiB: 0,
          gflops: 50,
          teeType: RegistryTeeType.Simulated,
          evidenceHash: keccak256(toUtf8Bytes(`evidence ${i}`)),
          endpoint: `127.0.0.1:${7000 + i}`,
        },
        parseEther('2000'),
      ),
    );
    providers.push(p);
    enclaves.push(enclave);
    executorIds.push(BigInt(i + 1));
  }
  for (let i = 0; i < (opts.witnesses ?? 7); i++) {
    const w = actor(actorKey(`witness ${i}`));
    await fund(w);
    await tx('Registry.registerWitness', c.registry.connect(w.signer).registerWitness(parseEther('200')));
    witnesses.push(w);
  }
  const mine = async (blocks: number) => {
    await provider.send('anvil_mine', [`0x${blocks.toString(16)}`]);
  };
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
    mine,
    async now() {
      return BigInt((await provider.getBlock('latest'))!.timestamp);
    },
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

/** Posts an order, has providers[i] bid prices[i], reveals all (or those in `reveal`), closes bidding. */
export async function auction(
  ch: Chain,
  prices: readonly bigint[],
  opts: { size?: number; majority?: number; reveal?: readonly number[]; bidders?: readonly number[] } = {},
): Promise<bigint> {
  const { c } = ch;
  const market = c.market.connect(ch.customer.signer);
  const orderId = (await c.market.orderCount()) + 1n;
  await ch.tx(
    'Market.postOrder',
    market.postOrder({
      levelId: LEVEL,
      duration: DURATION,
      maxUnitPrice: MAX_PRICE,
      biddingWindow: 50n,
      committeeSize: opts.size ?? 3,
      majority: opts.majority ?? 2,
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
      50,
      salt(`bid ${orderId} ${i}`),
    );
    await ch.tx(
      'Market.commitBid',
      c.market.connect(p.signer).commitBid(orderId, ch.executorIds[bidder(i)]!, commitment),
    );
  }
  await ch.advance(50);
  for (const [i, price] of prices.entries()) {
    if (opts.reveal && !opts.reveal.includes(i)) continue;
    const p = ch.providers[bidder(i)]!;
    await ch.tx(
      'Market.revealBid',
      c.market.connect(p.signer).revealBid(orderId, i, price, 50, salt(`bid ${orderId} ${i}`)),
    );
  }
  await ch.advance(ch.params.bidRevealWindow);
  await ch.tx('Market.closeBidding', market.closeBidding(orderId));
  return orderId;
}

/** The winner confirms, the customer starts the lease; returns the witness round id. */
export async function startLease(ch: Chain, orderId: bigint): Promise<bigint> {
  const { c } = ch;
  const o = await c.market.order(orderId);
  const winner = ch.providers[Number(o.winner)]!;
  await ch.tx(
    'Market.confirmLease',
    c.market.connect(winner.signer).confirmLease(orderId, 'grpc://127.0.0.1:7000'),
  );
  await ch.tx('Market.startLease', c.market.connect(ch.customer.signer).startLease(orderId));
  return c.witnessPool.latestRoundOf(orderId);
}

/**
 * Draws the committee and plays a round. `verdicts[i]` is what the i-th member reports; `null` means it
 * commits but never reveals.
 */
export async function playRound(
  ch: Chain,
  roundId: bigint,
  verdicts: readonly (WitnessPoolVerdict | null)[],
  violationTime = 0n,
): Promise<string[]> {
  const { c } = ch;
  await ch.mine(Number(ch.params.seedDelay) + 1);
  await ch.tx(`WitnessPool.drawCommittee`, c.witnessPool.drawCommittee(roundId));
  const members = await c.witnessPool.committee(roundId);
  const byAddress = new Map(ch.witnesses.map((w) => [w.address, w]));
  const leaseId = (await c.witnessPool.round(roundId)).leaseId;
  for (const [i, m] of members.entries()) {
    const w = byAddress.get(m)!;
    const v = verdicts[i] ?? WitnessPoolVerdict.NotViolated;
    const commitment = verdictCommitment(
      BigInt(ch.deployment.chainId),
      ch.deployment.contracts.witnessPool,
      leaseId,
      roundId,
      m,
      v,
      violationTime,
      salt(`w ${roundId} ${m}`),
    );
    await ch.tx(
      'WitnessPool.commitVerdict',
      c.witnessPool.connect(w.signer).commitVerdict(roundId, commitment),
    );
  }
  await ch.advance(ch.params.commitWindow);
  for (const [i, m] of members.entries()) {
    const v = verdicts[i];
    if (v === null) continue;
    const w = byAddress.get(m)!;
    await ch.tx(
      'WitnessPool.revealVerdict',
      c.witnessPool
        .connect(w.signer)
        .revealVerdict(
          roundId,
          v ?? WitnessPoolVerdict.NotViolated,
          violationTime,
          salt(`w ${roundId} ${m}`),
        ),
    );
  }
  if (verdicts.some((v) => v === null)) await ch.advance(ch.params.revealWindow);
  await ch.tx('WitnessPool.finalize', c.witnessPool.finalize(roundId));
  return [...members];
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

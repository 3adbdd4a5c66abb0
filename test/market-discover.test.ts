/*
 * The market readers on a real anvil: discover() keeps exactly the executors that meet each
 * requirement (specs, TEE types, a level's minimums with the Market's minimum stake, free stake),
 * levels() reads the deployed DEFAULT_LEVELS, orders() reads posted orders with their state and SLA,
 * and `defaas market levels|orders|executors --json` prints what the SDK returns.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keccak256, parseEther, toUtf8Bytes, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonValue } from '../cli/output.js';
import { RegistryTeeType } from '../contracts/bindings/index.js';
import { DEFAULT_LEVELS } from '../contracts/deploy.js';
import {
  AVAILABILITY_BPS,
  auction,
  type Chain,
  EPOCH_LENGTH,
  LEVEL,
  MAX_PRICE,
  P95_LATENCY_MS,
  registrationProof,
  startChain,
} from '../contracts/test/chain-fixture.js';
import { discover, isDefaasError, levels, orders, type Requirements } from '../sdk/index.js';
import { expectFailure, onlyJson, runCli } from './cli-run.js';

let ch: Chain;
let deploymentFile: string;

/** Executors registered beside the fixture's two (ids 1 and 2: simulated, 2 cores, 1024 MiB, 50 GFLOP/s). */
const EXTRA = [
  // id 3: meets level 2 (tdx-small)
  { cpuCores: 4, memoryMiB: 8192, gpuMemoryMiB: 0, gflops: 100, teeType: RegistryTeeType.Tdx, stake: '5000' },
  // id 4: meets level 3 (snp-medium), the only one with a GPU
  {
    cpuCores: 8,
    memoryMiB: 16384,
    gpuMemoryMiB: 24576,
    gflops: 200,
    teeType: RegistryTeeType.SevSnp,
    stake: '5000',
  },
  // id 5: the specs of level 3, but less free stake than the Market's minProviderStake (1000)
  {
    cpuCores: 8,
    memoryMiB: 16384,
    gpuMemoryMiB: 0,
    gflops: 200,
    teeType: RegistryTeeType.SevSnp,
    stake: '500',
  },
] as const;

beforeAll(async () => {
  ch = await startChain({ providers: 2, witnesses: 0 });
  const p = ch.providers[0]!;
  for (const [i, x] of EXTRA.entries()) {
    const enclave = new Wallet(keccak256(toUtf8Bytes(`market test enclave ${i}`)));
    const evidenceHash = keccak256(toUtf8Bytes(`market test evidence ${i}`));
    const endpoint = `127.0.0.1:${7100 + i}`;
    const { stake, ...specs } = x;
    const proof = await registrationProof(ch.c, enclave, p.address, evidenceHash, endpoint);
    await ch.tx(
      'setup',
      ch.c.registry
        .connect(p.signer)
        .registerExecutor(
          { enclave: enclave.address, evidenceHash, endpoint, ...specs },
          parseEther(stake),
          proof,
        ),
    );
  }
  // order 1 goes through bidding to Confirming; order 2 stays in Bidding
  await auction(ch, [MAX_PRICE / 2n, MAX_PRICE], { bidders: [0, 1] });
  await ch.tx(
    'setup',
    ch.c.market.connect(ch.customer.signer).postOrder({
      levelId: LEVEL,
      duration: 2000n,
      maxUnitPrice: MAX_PRICE,
      biddingWindow: 60n,
      committeeSize: 3,
      majority: 2,
      availabilityBps: AVAILABILITY_BPS,
      p95LatencyMs: P95_LATENCY_MS,
      epochLength: EPOCH_LENGTH,
    }),
  );
  deploymentFile = join(mkdtempSync(join(tmpdir(), 'defaas-market-')), 'deployment.json');
  writeFileSync(deploymentFile, JSON.stringify(ch.deployment));
}, 60_000);

afterAll(async () => {
  await ch?.stop();
});

async function ids(requirements: Requirements): Promise<bigint[]> {
  const p = await discover({ provider: ch.provider, deployment: ch.deployment, requirements });
  return p.items.map((e) => e.id);
}

describe('discover', () => {
  it('without requirements lists every executor with what the Registry holds', async () => {
    const p = await discover({ provider: ch.provider, deployment: ch.deployment });
    expect(p.total).toBe(5n);
    expect(p.next).toBeUndefined();
    expect(p.items.map((e) => e.id)).toEqual([1n, 2n, 3n, 4n, 5n]);
    const e4 = p.items[3]!;
    expect(e4).toMatchObject({
      provider: ch.providers[0]!.address.toLowerCase(),
      endpoint: '127.0.0.1:7101',
      cpuCores: 8,
      memoryMiB: 16384,
      gpuMemoryMiB: 24576,
      gflops: 200,
      teeType: 'sev-snp',
      freeStake: parseEther('5000'),
      activeLeases: 0,
    });
    expect(e4.evidenceHash).toBe(keccak256(toUtf8Bytes('market test evidence 1')));
    expect(p.items[0]!.teeType).toBe('simulated');
  });

  it.each<[string, Requirements, bigint[]]>([
    ['minCpuCores', { minCpuCores: 4 }, [3n, 4n, 5n]],
    ['minMemoryMiB', { minMemoryMiB: 10_000 }, [4n, 5n]],
    ['minGpuMemoryMiB', { minGpuMemoryMiB: 1 }, [4n]],
    ['minGflops', { minGflops: 150 }, [4n, 5n]],
    ['tees tdx', { tees: ['tdx'] }, [3n]],
    ['tees simulated, sev-snp', { tees: ['simulated', 'sev-snp'] }, [1n, 2n, 4n, 5n]],
    ['level 1 (simulated)', { levelId: 1n }, [1n, 2n]],
    ['level 2 (tdx)', { levelId: 2n }, [3n]],
    ['level 3 (sev-snp; the Market minimum stake excludes 5)', { levelId: 3n }, [4n]],
    ['minFreeStake', { minFreeStake: parseEther('1000') }, [1n, 2n, 3n, 4n]],
    ['all together', { minCpuCores: 8, tees: ['sev-snp'], minFreeStake: parseEther('600') }, [4n]],
  ])('%s excludes the executors below it', async (_name, r, expected) => {
    expect(await ids(r)).toEqual(expected);
  });

  it('reads in pages of ids', async () => {
    const first = await discover({ provider: ch.provider, deployment: ch.deployment, maxItems: 2 });
    expect(first.items.map((e) => e.id)).toEqual([1n, 2n]);
    expect(first.next).toBe(3n);
    const rest = await discover({ provider: ch.provider, deployment: ch.deployment, from: 3n, maxItems: 10 });
    expect(rest.items.map((e) => e.id)).toEqual([3n, 4n, 5n]);
    expect(rest.next).toBeUndefined();
  });

  it.each<[string, Requirements, string]>([
    ['no TEE type', { tees: [] }, 'SDK_INVALID_REQUIREMENTS'],
    ['an unknown TEE type', { tees: ['sgx' as 'tdx'] }, 'SDK_INVALID_REQUIREMENTS'],
    ['a negative minimum', { minCpuCores: -1 }, 'SDK_INVALID_REQUIREMENTS'],
    ['a fractional minimum', { minGflops: 1.5 }, 'SDK_INVALID_REQUIREMENTS'],
    ['level 0', { levelId: 0n }, 'SDK_INVALID_REQUIREMENTS'],
    ['a level the Market does not have', { levelId: 4n }, 'MARKET_UNKNOWN_LEVEL'],
  ])('refuses %s (a rejected promise, not a throw)', async (_name, r, code) => {
    const e = await discover({ provider: ch.provider, deployment: ch.deployment, requirements: r }).catch(
      (x: unknown) => x,
    );
    expect(isDefaasError(e, code as 'SDK_INVALID_REQUIREMENTS'), String(e)).toBe(true);
  });

  it('addresses that hold no defaas contract are CHAIN_UNEXPECTED_ANSWER', async () => {
    const deployment = {
      ...ch.deployment,
      contracts: { ...ch.deployment.contracts, registry: ch.customer.address },
    };
    const e = await discover({ provider: ch.provider, deployment }).catch((x: unknown) => x);
    expect(isDefaasError(e, 'CHAIN_UNEXPECTED_ANSWER'), String(e)).toBe(true);
  });

  it('an endpoint that does not answer is CHAIN_UNAVAILABLE', async () => {
    const e = await discover({ rpc: 'http://127.0.0.1:9', deployment: ch.deployment }).catch(
      (x: unknown) => x,
    );
    expect(isDefaasError(e, 'CHAIN_UNAVAILABLE'), String(e)).toBe(true);
  });
});

describe('levels and orders', () => {
  it('levels are the deployed DEFAULT_LEVELS, ids from 1', async () => {
    const p = await levels({ rpc: ch.deployment.rpcUrl, deployment: ch.deployment });
    const tees = ['simulated', 'tdx', 'sev-snp'];
    expect(p.items).toEqual(
      DEFAULT_LEVELS.map((l, i) => ({ ...l, id: BigInt(i + 1), teeType: tees[Number(l.teeType)] })),
    );
  });

  it('orders carry their state and SLA; --state keeps only those', async () => {
    const all = await orders({ provider: ch.provider, deployment: ch.deployment });
    expect(all.items.map((o) => [o.id, o.state])).toEqual([
      [1n, 'confirming'],
      [2n, 'bidding'],
    ]);
    expect(all.items[0]!.price).toBe(MAX_PRICE / 2n);
    expect(all.items[0]!.bidCount).toBe(2);
    expect(all.items[1]).toMatchObject({
      customer: ch.customer.address.toLowerCase(),
      levelId: LEVEL,
      duration: 2000n,
      maxUnitPrice: MAX_PRICE,
      availabilityBps: AVAILABILITY_BPS,
      p95LatencyMs: P95_LATENCY_MS,
      epochLength: EPOCH_LENGTH,
      epochs: 4,
      bidCount: 0,
    });
    const bidding = await orders({ provider: ch.provider, deployment: ch.deployment, state: ['bidding'] });
    expect(bidding.items.map((o) => o.id)).toEqual([2n]);
  });
});

describe('defaas market', () => {
  it('executors --json prints what discover() returns', async () => {
    const r = await runCli(
      'market',
      'executors',
      '--deployment',
      deploymentFile,
      '--tee',
      'sev-snp',
      '--min-gpu-memory-mib',
      '1',
      '--json',
    );
    expect(r.code, r.out + r.err).toBe(0);
    const out = onlyJson<{ executors: unknown[]; total: string }>(r.out);
    const sdk = await discover({
      provider: ch.provider,
      deployment: ch.deployment,
      requirements: { tees: ['sev-snp'], minGpuMemoryMiB: 1 },
    });
    expect(sdk.items.map((e) => e.id)).toEqual([4n]);
    expect(out.executors).toEqual(jsonValue(sdk.items));
    expect(out.total).toBe('5');
  });

  it('executors --level prints a table of the matching executors', async () => {
    const r = await runCli('market', 'executors', '--deployment', deploymentFile, '--level', '2');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^ID +TEE +CPU/);
    expect(r.out).toContain('127.0.0.1:7100');
    expect(r.out).not.toContain('127.0.0.1:7101');
    expect(r.out).toMatch(/1 executors match \(ids 1-5 of 5\)/);
  });

  it('levels --json and orders --state --json print what the SDK returns', async () => {
    const l = await runCli('market', 'levels', '--deployment', deploymentFile, '--json');
    expect(l.code, l.out).toBe(0);
    const sdkLevels = await levels({ provider: ch.provider, deployment: ch.deployment });
    expect(onlyJson(l.out).levels).toEqual(jsonValue(sdkLevels.items));
    const o = await runCli(
      'market',
      'orders',
      '--deployment',
      deploymentFile,
      '--state',
      'confirming',
      '--json',
    );
    expect(o.code, o.out).toBe(0);
    const listed = onlyJson<{ orders: { id: string; state: string }[] }>(o.out).orders;
    expect(listed.map((x) => [x.id, x.state])).toEqual([['1', 'confirming']]);
  });

  it('an unknown level exits 2 with MARKET_UNKNOWN_LEVEL', async () => {
    const r = await runCli('market', 'executors', '--deployment', deploymentFile, '--level', '9', '--json');
    expect(r.code).toBe(2);
    expectFailure(r.out, 'MARKET_UNKNOWN_LEVEL', 'usage');
  });

  it('an unreachable --rpc exits 3 with CHAIN_UNAVAILABLE', async () => {
    const r = await runCli(
      'market',
      'levels',
      '--deployment',
      deploymentFile,
      '--rpc',
      'http://127.0.0.1:9',
      '--json',
    );
    expect(r.code).toBe(3);
    expectFailure(r.out, 'CHAIN_UNAVAILABLE', 'transient');
  });
});

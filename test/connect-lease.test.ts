import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBytes, keccak256, toUtf8Bytes, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../attestation/bytes.js';
import { generateSimulatedRoot } from '../attestation/simulated.js';
import { settlementLeaseCheck } from '../cli/settlement-lease-check.js';
import {
  auction,
  type Chain,
  registrationProof,
  startChain,
  startLease,
} from '../contracts/test/chain-fixture.js';
import { buildExample } from '../examples/build-example.js';
import { generateX25519 } from '../protocol/x25519.js';
import { connect, connectLease, isDefaasError, LeasePool, leaseEndpoint } from '../sdk/index.js';
import { expectFailure, onlyJson, runCli } from './cli-run.js';
import { type Harness, startExecutor } from './e2e-harness.js';

/*
 * connectLease on a real anvil: the lease's executor is found through Settlement and the Registry,
 * and the session pins what the chain says (enclave, evidence hash, EIP-712 domain, lease). A lease
 * that is not open, a registered evidence hash the executor does not present, a chain that does not
 * answer or is another chain are typed errors; `defaas invoke --lease --rpc` does the same.
 */

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('connectLease (anvil)', () => {
  let ch: Chain;
  let dir: string;
  const root = generateSimulatedRoot();
  const harnesses: Harness[] = [];
  let good: bigint;
  let mismatched: bigint;
  let echo: Uint8Array;
  let customer: Wallet;

  /**
   * Starts fixture executor `i` (its enclave key) for the lease the next order will become, and
   * registers its real endpoint with `evidenceHash` (default: the evidence it presents).
   */
  async function executorFor(i: number, lease: bigint, evidenceHash?: string): Promise<Harness> {
    const key = ch.enclaves[i]!;
    const h = await startExecutor({
      root,
      identity: {
        identityPrivateKey: getBytes(key.privateKey),
        identityAddress: key.address.toLowerCase(),
        staticKey: generateX25519(),
      },
      leaseId: lease,
      domain: {
        chainId: BigInt(ch.deployment.chainId),
        verifyingContract: ch.deployment.contracts.settlement,
      },
      leaseCheck: settlementLeaseCheck(ch.c.settlement),
      leaseCheckTtlMs: 0,
      pricePerCall: 3n,
    });
    harnesses.push(h);
    let hash = evidenceHash;
    if (hash === undefined) {
      const s = await connect(h.endpoint, { policy: h.policy });
      hash = `0x${toHex(s.accepted.verified.evidenceHash)}`;
      await s.close();
    }
    // The registered form may carry a grpc:// prefix.
    const endpoint = i === 0 ? `grpc://${h.endpoint}` : h.endpoint;
    const p = ch.providers[i]!;
    const proof = await registrationProof(ch.c, key, p.address, hash, endpoint);
    await ch.tx(
      'setup',
      ch.c.registry.connect(p.signer).updateExecutor(ch.executorIds[i]!, key.address, hash, endpoint, proof),
    );
    return h;
  }

  beforeAll(async () => {
    ch = await startChain({ providers: 2, witnesses: 3 });
    dir = await mkdtemp(join(tmpdir(), 'defaas-lease-'));
    echo = await buildExample('echo');
    customer = new Wallet(ch.customer.wallet.privateKey);
    good = (await ch.c.market.orderCount()) + 1n;
    await executorFor(0, good);
    expect(await auction(ch, [1n], { bidders: [0] })).toBe(good);
    await startLease(ch, good);
    mismatched = (await ch.c.market.orderCount()) + 1n;
    await executorFor(1, mismatched, keccak256(toUtf8Bytes('evidence it does not present')));
    expect(await auction(ch, [1n], { bidders: [1] })).toBe(mismatched);
    await startLease(ch, mismatched);
  }, 180_000);

  afterAll(async () => {
    for (const h of harnesses) await h.stop();
    await ch?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finds the executor on chain, pins it, and calls under the chain’s domain', async () => {
    const policy = harnesses[0]!.policy;
    for (const source of [{ provider: ch.provider }, { rpc: ch.anvil.url }]) {
      const s = await connectLease({ ...source, deployment: ch.deployment, leaseId: good, policy });
      try {
        expect(s.accepted.identityAddress).toBe(ch.enclaves[0]!.address.toLowerCase());
        expect(s.terms.leaseId).toBe(good);
        expect(s.domain.verifyingContract).toBe(ch.deployment.contracts.settlement.toLowerCase());
        const fn = await s.deploy(echo);
        const r = await s.invoke(fn, enc('on chain'), { wallet: customer });
        expect(dec(r.output)).toBe('on chain');
        expect(r.receipt.receipt.leaseId).toBe(good);
      } finally {
        await s.close();
      }
    }
  }, 60_000);

  it('a lease pool over a session from the chain', async () => {
    const s = await connectLease({
      provider: ch.provider,
      deployment: ch.deployment,
      leaseId: good,
      policy: harnesses[0]!.policy,
    });
    const pool = new LeasePool([{ leaseId: good, session: s }], {
      wallet: customer,
      block: async () => {
        const b = (await ch.provider.getBlock('latest'))!;
        return { number: b.number, hash: b.hash! };
      },
    });
    try {
      const fn = await pool.deploy(echo);
      const r = await pool.invoke(fn, enc('pooled'));
      expect(dec(r.output)).toBe('pooled');
      expect(r.leaseId).toBe(good);
      expect((await ch.provider.getBlock(r.block.number))?.hash).toBe(r.block.hash);
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('a lease that is not open is LEASE_NOT_OPEN', async () => {
    const e = await connectLease({
      provider: ch.provider,
      deployment: ch.deployment,
      leaseId: 999n,
      policy: harnesses[0]!.policy,
    }).catch((x: unknown) => x);
    expect(isDefaasError(e, 'LEASE_NOT_OPEN'), String(e)).toBe(true);
    expect((e as { info: Record<string, unknown> }).info.status).toBe('none');
  });

  it('an executor that does not present the registered evidence is IDENTITY_MISMATCH', async () => {
    const e = await connectLease({
      provider: ch.provider,
      deployment: ch.deployment,
      leaseId: mismatched,
      policy: harnesses[1]!.policy,
    }).catch((x: unknown) => x);
    expect(isDefaasError(e, 'IDENTITY_MISMATCH'), String(e)).toBe(true);
  }, 30_000);

  it('a chain that does not answer is CHAIN_UNAVAILABLE; another chain is CHAIN_UNEXPECTED_ANSWER', async () => {
    const policy = harnesses[0]!.policy;
    const down = await connectLease({
      rpc: 'http://127.0.0.1:9',
      deployment: ch.deployment,
      leaseId: good,
      policy,
    }).catch((x: unknown) => x);
    expect(isDefaasError(down, 'CHAIN_UNAVAILABLE'), String(down)).toBe(true);
    for (const source of [{ provider: ch.provider }, { rpc: ch.anvil.url }]) {
      const other = await connectLease({
        ...source,
        deployment: { ...ch.deployment, chainId: ch.deployment.chainId + 1 },
        leaseId: good,
        policy,
      }).catch((x: unknown) => x);
      expect(isDefaasError(other, 'CHAIN_UNEXPECTED_ANSWER'), String(other)).toBe(true);
    }
    const noSettlement = await connectLease({
      provider: ch.provider,
      deployment: {
        ...ch.deployment,
        contracts: { ...ch.deployment.contracts, settlement: ch.customer.address },
      },
      leaseId: good,
      policy,
    }).catch((x: unknown) => x);
    expect(isDefaasError(noSettlement, 'CHAIN_UNEXPECTED_ANSWER'), String(noSettlement)).toBe(true);
  }, 30_000);

  it('defaas invoke --lease --rpc: no endpoint needed', async () => {
    const wasm = join(dir, 'echo.wasm');
    const policy = join(dir, 'policy.json');
    const key = join(dir, 'customer.key');
    const deployment = join(dir, 'deployment.json');
    await writeFile(wasm, echo);
    await writeFile(policy, JSON.stringify(harnesses[0]!.policy));
    await writeFile(key, `${customer.privateKey.slice(2)}\n`);
    await writeFile(deployment, JSON.stringify(ch.deployment));
    const base = ['invoke', '--wasm', wasm, '--input', 'cli', '--policy', policy, '--key', key, '--json'];
    const chain = ['--rpc', ch.anvil.url, '--deployment', deployment];
    const r = await runCli(...base, ...chain, '--lease', good.toString());
    expect(r.code, r.out + r.err).toBe(0);
    const j = onlyJson<{ outputText: string; enclave: { identity: string } }>(r.out);
    expect(j.outputText).toBe('cli');
    expect(j.enclave.identity).toBe(ch.enclaves[0]!.address.toLowerCase());

    const notOpen = await runCli(...base, ...chain, '--lease', '999');
    expect(notOpen.code).toBe(4);
    expectFailure(notOpen.out, 'LEASE_NOT_OPEN', 'rejected');
    const mismatch = await runCli(...base, ...chain, '--lease', mismatched.toString());
    expect(mismatch.code).toBe(1);
    expectFailure(mismatch.out, 'IDENTITY_MISMATCH', 'protocol');
    // --rpc finds the endpoint: with --endpoint, or without --lease, it is a usage error.
    const both = await runCli(...base, ...chain, '--lease', good.toString(), '--endpoint', '127.0.0.1:9');
    expect(both.code).toBe(2);
    expectFailure(both.out, 'CONFLICTING_OPTIONS', 'usage');
    const noLease = await runCli(...base, ...chain);
    expect(noLease.code).toBe(2);
    expectFailure(noLease.out, 'MISSING_ARGUMENT', 'usage');
    const pinned = await runCli(
      ...base,
      ...chain,
      '--lease',
      good.toString(),
      '--identity',
      customer.address,
    );
    expect(pinned.code).toBe(2);
    expectFailure(pinned.out, 'CONFLICTING_OPTIONS', 'usage');
  }, 60_000);
});

describe('leaseEndpoint: what a provider registered', () => {
  it('accepts host:port and grpc://host:port', () => {
    expect(leaseEndpoint('127.0.0.1:7443')).toBe('127.0.0.1:7443');
    expect(leaseEndpoint('grpc://executor.example:443')).toBe('executor.example:443');
    expect(leaseEndpoint('[::1]:7443')).toBe('[::1]:7443');
  });
  it.each([
    '',
    '127.0.0.1',
    '127.0.0.1:0',
    '127.0.0.1:65536',
    '127.0.0.1:123456',
    'http://127.0.0.1:80',
    'grpc://127.0.0.1:80/path',
    'user@127.0.0.1:80',
    '127.0.0.1:80 ',
    'unix:/tmp/socket',
    'dns:///127.0.0.1:80',
    '-host:80',
    `${'a'.repeat(400)}:80`,
  ])('refuses %j: EXECUTOR_ENDPOINT_INVALID', (raw) => {
    let e: unknown;
    try {
      leaseEndpoint(raw);
    } catch (x) {
      e = x;
    }
    expect(isDefaasError(e, 'EXECUTOR_ENDPOINT_INVALID'), String(e)).toBe(true);
  });
});

/*
 * The market as real processes on the embedded chain (`chain up --params dev`: windows of seconds,
 * a block every second, nobody moves the clock): three `defaas provider start` processes, each an
 * executor with its agent; a customer who wins a lease through `order post --wait` and calls it
 * through `invoke --lease`; a second and a third order won by the two other providers, whose leases
 * one LeasePool spreads calls over with power-of-two choices. One provider is killed mid-run: the
 * calls move to the other lease, every receipt verifies and nothing is charged twice; restarted on its
 * state directory, it redeems what it is owed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonRpcProvider, parseEther, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Policy } from '../attestation/policy.js';
import { chainUp } from '../cli/commands/chain.js';
import type { Anvil } from '../contracts/anvil.js';
import { connectSettlement } from '../contracts/bindings/index.js';
import { PaddedWallet } from '../contracts/deploy.js';
import { buildExample } from '../examples/build-example.js';
import { connectLease, LeasePool, LocalReceiptStore, latestBlock, type Session } from '../sdk/index.js';
import { onlyJson, runCli } from './cli-run.js';

const repo = new URL('..', import.meta.url).pathname;
const PRICE_PER_CALL = 10n ** 15n;
/** The caps of the three orders, token base units per second. */
const CAP = parseEther('0.001');

interface Running {
  readonly child: ChildProcess;
  readonly stateDir: string;
  readonly args: string[];
  serving: Record<string, unknown>;
  log: string;
}

/** `node bin/defaas.mjs provider start …`; resolves once its one JSON line is out. */
function startProvider(args: string[], stateDir: string): Promise<Running> {
  const child = spawn(process.execPath, [join(repo, 'bin', 'defaas.mjs'), 'provider', 'start', ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r: Running = { child, stateDir, args, serving: {}, log: '' };
  child.stderr?.on('data', (d) => {
    r.log = (r.log + String(d)).slice(-20_000);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`provider did not start in 60 s:\n${r.log}`)), 60_000);
    child.stdout?.on('data', (d) => {
      out += String(d);
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(t);
      r.serving = JSON.parse(out.slice(0, nl));
      resolve(r);
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`provider exited with ${code}:\n${r.log}`));
    });
  });
}

function stopProvider(r: Running, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    r.child.once('exit', () => resolve());
    r.child.kill(signal);
  });
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('providers and customers as processes on the dev chain', () => {
  let dir: string;
  let anvil: Anvil | undefined;
  let rpcUrl: string;
  let deploymentFile: string;
  let rpc: JsonRpcProvider;
  let customerKeyFile: string;
  let customer: PaddedWallet;
  let policyFile: string;
  let policy: Policy;
  let wasm: string;
  const providers: Running[] = [];
  let deployment: { chainId: number; contracts: Record<string, string> };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'defaas-providers-'));
    deploymentFile = join(dir, 'deployment.json');
    const up = await chainUp({ out: deploymentFile, params: 'dev' });
    anvil = up.anvil;
    rpcUrl = up.deployment.rpcUrl;
    deployment = up.deployment as unknown as typeof deployment;
    rpc = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, pollingInterval: 100 });
    const keys = [0, 1, 2, 3].map(() => Wallet.createRandom().privateKey);
    const files = await Promise.all(
      keys.map(async (k, i) => {
        const f = join(dir, `key${i}`);
        await writeFile(f, `${k}\n`, { mode: 0o600 });
        return f;
      }),
    );
    customerKeyFile = files[3]!;
    customer = new PaddedWallet(keys[3]!, rpc);
    const addresses = keys.map((k) => new Wallet(k).address).join(',');
    const funded = await runCli(
      'chain',
      'fund',
      '--rpc',
      rpcUrl,
      '--deployment',
      deploymentFile,
      '--to',
      addresses,
      '--tokens',
      '5000',
      '--eth',
      '10',
      '--json',
    );
    expect(funded.code, funded.err).toBe(0);
    // A: cheapest, takes any order; B: only orders paying at least 1.5 × CAP per second; C: any order,
    // one lease at a time. Each serves at most one lease.
    const policies = [
      ['--bid-fraction', '0.5'],
      ['--bid-fraction', '0.6', '--min-price', ((CAP * 3n) / 2n).toString()],
      ['--bid-fraction', '0.9'],
    ];
    for (const [i, p] of policies.entries()) {
      const stateDir = join(dir, `provider${i}`);
      const args = [
        '--rpc',
        rpcUrl,
        '--deployment',
        deploymentFile,
        '--key',
        files[i]!,
        '--state-dir',
        stateDir,
        '--listen',
        '127.0.0.1:0',
        '--price',
        PRICE_PER_CALL.toString(),
        '--workers',
        '1',
        '--gflops',
        '10',
        '--max-leases',
        '1',
        '--poll-ms',
        '300',
        '--redeem-every',
        '2',
        '--log-level',
        'warn',
        '--json',
        ...p,
      ];
      providers.push(await startProvider(args, stateDir));
    }
    // The customer accepts the three simulated roots (each provider's state directory has its own).
    const roots: string[] = [];
    for (const p of providers) {
      const pol = JSON.parse(await readFile(join(p.stateDir, 'policy.json'), 'utf8')) as Policy;
      roots.push(...(pol.simulated?.rootKeyHashes ?? []));
      policy = pol;
    }
    policy = { ...policy, simulated: { rootKeyHashes: roots } };
    policyFile = join(dir, 'policy.json');
    await writeFile(policyFile, JSON.stringify(policy));
    wasm = join(dir, 'sha256.wasm');
    await writeFile(wasm, await buildExample('sha256'));
  }, 240_000);

  afterAll(async () => {
    await Promise.all(providers.map((p) => stopProvider(p)));
    rpc?.destroy();
    await anvil?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const order = async (cap: bigint, wait: boolean) => {
    const r = await runCli(
      'order',
      'post',
      '--rpc',
      rpcUrl,
      '--deployment',
      deploymentFile,
      '--key',
      customerKeyFile,
      '--level',
      '1',
      '--duration',
      '900',
      '--max-price',
      cap.toString(),
      '--committee',
      '3/2',
      '--epoch-length',
      '300',
      '--bidding-window',
      '5',
      ...(wait ? ['--wait', '--timeout', '120'] : []),
      '--json',
    );
    expect(r.code, r.out + r.err).toBe(0);
    return onlyJson<{ orderId: string; lease?: { leaseId: string; provider: string; endpoint: string } }>(
      r.out,
    );
  };

  let lease1 = '';

  it('three providers register; a customer wins a lease with order post --wait and calls it with invoke --lease', async () => {
    const ids = providers.map((p) => p.serving.executorId);
    expect(new Set(ids).size).toBe(3);
    for (const p of providers) expect(p.serving.registration).toBe('registered');
    const o = await order(CAP, true);
    expect(o.lease?.provider.toLowerCase()).toBe(String(providers[0]!.serving.provider));
    lease1 = o.lease!.leaseId;
    const r = await runCli(
      'invoke',
      '--rpc',
      rpcUrl,
      '--deployment',
      deploymentFile,
      '--lease',
      lease1,
      '--wasm',
      wasm,
      '--input',
      'hello',
      '--key',
      customerKeyFile,
      '--policy',
      policyFile,
      '--json',
    );
    expect(r.code, r.out + r.err).toBe(0);
    const out = onlyJson<{ outputText: string; enclave: { identity: string } }>(r.out);
    expect(out.outputText.trim()).toBe(createHash('sha256').update('hello').digest('hex'));
    expect(out.enclave.identity.toLowerCase()).toBe(String(providers[0]!.serving.enclave).toLowerCase());
  }, 180_000);

  it('spreads calls over two leases with power-of-two, fails over when a provider is killed, charges nothing twice; the restarted provider redeems what it is owed', async () => {
    // Order 2 (cap CAP) is taken by C only (A serves lease 1, B's floor is higher); order 3 (2 × CAP) by B.
    const o2 = await order(CAP, false);
    const o3 = await order(2n * CAP, false);
    for (const id of [o2.orderId, o3.orderId]) {
      const r = await runCli(
        'order',
        'status',
        id,
        '--rpc',
        rpcUrl,
        '--deployment',
        deploymentFile,
        '--key',
        customerKeyFile,
        '--wait',
        '--timeout',
        '120',
        '--json',
      );
      expect(r.code, r.out + r.err).toBe(0);
    }
    const settlement = connectSettlement(deployment.contracts.settlement!, rpc);
    const l2 = await settlement.lease(BigInt(o2.orderId));
    const l3 = await settlement.lease(BigInt(o3.orderId));
    expect(l2.provider.toLowerCase()).toBe(String(providers[2]!.serving.provider));
    expect(l3.provider.toLowerCase()).toBe(String(providers[1]!.serving.provider));

    const store = new LocalReceiptStore();
    const sessions: Session[] = [];
    for (const id of [o2.orderId, o3.orderId])
      sessions.push(
        await connectLease({
          provider: rpc,
          deployment: deployment as never,
          leaseId: BigInt(id),
          policy,
          receipts: 'batched',
          store,
          voucherTtlSeconds: 3600,
          // A dead executor is given up on within a few of these (docs/balancing-failover.md).
          deadlineMs: 2_000,
        }),
      );
    const pool = new LeasePool(
      sessions.map((session, i) => ({ leaseId: BigInt([o2.orderId, o3.orderId][i]!), session })),
      { wallet: customer, block: latestBlock(rpc), policy: 'power-of-two', store },
    );
    const fn = await pool.deploy(await buildExample('sha256'));
    const inputs = Array.from({ length: 80 }, (_, i) => new TextEncoder().encode(`call ${i}`));
    const first = await pool.invokeMany(fn, inputs.slice(0, 40), { concurrency: 4 });
    expect(first.every((r) => r.ok)).toBe(true);
    const placed = new Set(first.map((r) => (r.ok ? r.leaseId.toString() : '')));
    expect(placed).toEqual(new Set([o2.orderId, o3.orderId]));

    // B (lease 3) is killed; the rest of the calls go to C.
    const b = providers[1]!;
    await stopProvider(b, 'SIGKILL');
    const second = await pool.invokeMany(fn, inputs.slice(40), { concurrency: 4 });
    const all = [...first, ...second];
    let unknown = 0;
    for (const [i, r] of all.entries()) {
      if (!r.ok) {
        // A call in flight on the killed executor may have run there: never re-sent elsewhere.
        expect(r.error.code).toBe('CALL_OUTCOME_UNKNOWN');
        unknown++;
        continue;
      }
      expect(new TextDecoder().decode(r.output).trim()).toBe(
        createHash('sha256').update(inputs[i]!).digest('hex'),
      );
    }
    expect(unknown).toBeLessThanOrEqual(4);
    expect(second.filter((r) => r.ok).every((r) => r.ok && r.leaseId === BigInt(o2.orderId))).toBe(true);
    await pool.close();

    // Nothing charged twice: per lease, the customer's highest voucher is exactly the calls it covers.
    const highest = new Map<string, bigint>();
    const covered = new Map<string, number>();
    for (const e of store.entries) {
      const id = e.voucher.voucher.leaseId.toString();
      const v = e.voucher.voucher.cumulativeAmount;
      if (v > (highest.get(id) ?? 0n)) highest.set(id, v);
      covered.set(id, (covered.get(id) ?? 0) + e.receipt.records.length);
    }
    for (const [id, n] of covered) expect(highest.get(id)).toBe(BigInt(n) * PRICE_PER_CALL);
    const okCalls = all.filter((r) => r.ok).length;
    expect([...covered.values()].reduce((a, b) => a + b, 0)).toBe(okCalls);

    // C redeems its lease's latest voucher while running.
    await until('lease 2 redeemed', async () =>
      (await settlement.lease(BigInt(o2.orderId))).paid === highest.get(o2.orderId) ? true : undefined,
    );
    // B's state holds the latest voucher it had written before it was killed; restarted, it redeems it.
    const kept = JSON.parse(await readFile(join(b.stateDir, 'provider.json'), 'utf8')) as {
      leases: Record<string, { voucher?: { cumulativeAmount: string } }>;
    };
    const owed = BigInt(kept.leases[o3.orderId]?.voucher?.cumulativeAmount ?? '0');
    expect(owed).toBeGreaterThan(0n);
    const restarted = await startProvider(b.args, b.stateDir);
    providers[1] = restarted;
    expect(restarted.serving.registration).toBe('reused');
    expect(restarted.serving.enclaveRestored).toBe(true);
    await until('lease 3 redeemed after the restart', async () =>
      (await settlement.lease(BigInt(o3.orderId))).paid >= owed ? true : undefined,
    );
    const paid = (await settlement.lease(BigInt(o3.orderId))).paid.toString();
    await until('provider status to show the redemption', async () => {
      const status = await runCli('provider', 'status', '--state-dir', b.stateDir, '--json');
      expect(status.code, status.err).toBe(0);
      const s = onlyJson<{ leases: { leaseId: string; redeemed: string }[] }>(status.out);
      return s.leases.find((l) => l.leaseId === o3.orderId)?.redeemed === paid ? true : undefined;
    });
  }, 240_000);
});

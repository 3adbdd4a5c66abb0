/*
 * The witness agent (verifier/agent/) on a real anvil: five agents in-process form a 5/3 committee
 * (one of them registers itself, the others reuse the fixture's registrations), four with an honest
 * evaluator (a real TCP check of an endpoint the test controls) and one that lies. Scenarios: a good
 * provider (Ok; the liar's Fraud report costs it stake), a bad provider (Unavailable; collateral
 * slashed, customer and honest reporters paid their shares), an agent killed between commit and reveal
 * (a new agent on its state directory reveals), a commit that reverts after its window (recorded and
 * shown by status), and the RPC endpoint going away (reads and sends retried).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { JsonRpcProvider, keccak256, Network, parseEther, toUtf8Bytes } from 'ethers';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WitnessPoolPhase, WitnessPoolVerdict } from '../contracts/bindings/index.js';
import { PaddedWallet } from '../contracts/deploy.js';
import {
  auction,
  type Chain,
  MAX_PRICE,
  requestRound,
  startChain,
  startLease,
} from '../contracts/test/chain-fixture.js';
import { WitnessAgent } from '../verifier/agent/agent.js';
import type { Evaluation, EvaluationInput, Evaluator, Verdict } from '../verifier/agent/evaluator.js';
import { reachabilityEvaluator } from '../verifier/agent/reachability.js';
import type { RoundRecord } from '../verifier/agent/state-store.js';
import { agentStatus } from '../verifier/agent/status.js';
import { onlyJson, runCli } from './cli-run.js';

let ch: Chain;
let root: string;
let executorUp: Server;
let upEndpoint: string;
let downEndpoint: string;
let proxy: RpcProxy;
const agents: WitnessAgent[] = [];
const keys: string[] = [];
const dirs: string[] = [];
const logs: string[] = [];
const unit = () => ch.params.rewardUnit;
const silent = pino({ level: 'silent' });

/** Where the honest evaluators look: the endpoint of the provider under test (a socket the test controls). */
let target = '';

/** The reachability check, pointed at the test's endpoint instead of the fixture's registered one. */
const honest = (dir: string): Evaluator => {
  const r = reachabilityEvaluator({ attempts: 2, spacingMs: 20, timeoutMs: 1000, evidenceDir: dir });
  return {
    name: 'honest',
    evaluate: (i: EvaluationInput) => r.evaluate({ ...i, executor: { ...i.executor, endpoint: target } }),
  };
};

/** Runs the honest check and reports the other verdict. */
const liar = (dir: string): Evaluator => ({
  name: 'liar',
  async evaluate(i) {
    const truth = await honest(dir).evaluate(i);
    const lie: Verdict = truth.verdict === 'Ok' ? 'Fraud' : 'Ok';
    return { ...truth, verdict: lie } satisfies Evaluation;
  },
});

/** A JSON-RPC relay to anvil that can be taken down, or made to drop the next raw transactions. */
interface RpcProxy {
  url: string;
  down: boolean;
  dropSends: number;
  dropped: number;
  server: HttpServer;
}

async function startProxy(upstream: string): Promise<RpcProxy> {
  const p = { url: '', down: false, dropSends: 0, dropped: 0 } as RpcProxy;
  p.server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (p.down || (p.dropSends > 0 && body.includes('eth_sendRawTransaction'))) {
        if (!p.down) p.dropSends--;
        p.dropped++;
        req.socket.destroy();
        return;
      }
      fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        .then(async (r) => {
          res.writeHead(r.status, { 'content-type': 'application/json' });
          res.end(await r.text());
        })
        .catch(() => req.socket.destroy());
    });
  });
  await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r));
  const addr = p.server.address() as { port: number };
  p.url = `http://127.0.0.1:${addr.port}`;
  return p;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const rec = (a: WitnessAgent, roundId: bigint): RoundRecord | undefined =>
  a.store.rounds.get(roundId.toString());
const phaseOf = (a: WitnessAgent, roundId: bigint) => rec(a, roundId)?.phase;
const allIn = (roundId: bigint, phases: string[], list = agents) =>
  list.every((a) => phases.includes(phaseOf(a, roundId) ?? 'none'));

async function newAgent(i: number, evaluator: Evaluator, viaProxy = false): Promise<WitnessAgent> {
  const url = viaProxy ? proxy.url : ch.anvil.url;
  const net = Network.from(31337n);
  const provider = new JsonRpcProvider(url, net, {
    staticNetwork: net,
    cacheTimeout: -1,
    pollingInterval: 50,
  });
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const a = await WitnessAgent.create({
    signer: new PaddedWallet(keys[i]!, provider),
    deployment: ch.deployment,
    stateDir: dirs[i]!,
    evaluator,
    log: viaProxy ? pino({ level: 'warn' }, stream) : silent,
    pollMs: 100,
    commitMarginSeconds: 5,
    tx: { baseDelayMs: 100, maxDelayMs: 500, receiptTimeoutMs: 5_000 },
  });
  await a.start();
  return a;
}

/** A lease of provider `p` with a 5/3 committee, its epoch-0 round requested and drawn. */
async function drawnRound(p: number): Promise<{ leaseId: bigint; roundId: bigint }> {
  const prices = Array<bigint>(p + 1).fill(MAX_PRICE);
  prices[p] = MAX_PRICE / 2n; // provider p wins
  const leaseId = await auction(ch, prices, { size: 5, majority: 3 });
  await startLease(ch, leaseId);
  const roundId = await requestRound(ch, leaseId);
  return { leaseId, roundId };
}

const tokenOf = (a: string) => ch.c.token.balanceOf(a);
const stakeOf = async (a: string) => (await ch.c.registry.witness(await ch.c.registry.witnessIdOf(a))).stake;

beforeAll(async () => {
  // Four fixture witnesses are registered; the fifth registers through its agent.
  ch = await startChain({ providers: 3, witnesses: 4 });
  root = await mkdtemp(join(tmpdir(), 'defaas-witness-agent-'));
  for (const w of ch.witnesses) keys.push(w.wallet.privateKey);
  keys.push(keccak256(toUtf8Bytes('defaas test witness agent self-registering')));
  const fresh = new PaddedWallet(keys[4]!, ch.provider);
  await ch.provider.send('anvil_setBalance', [fresh.address, '0x3635C9ADC5DEA00000']);
  await ch.tx('setup', ch.c.token.connect(ch.deployer.signer).transfer(fresh.address, parseEther('1000')));
  for (let i = 0; i < 5; i++) dirs.push(join(root, `w${i}`));
  executorUp = createServer((s) => s.end());
  await new Promise<void>((r) => executorUp.listen(0, '127.0.0.1', r));
  upEndpoint = `127.0.0.1:${(executorUp.address() as { port: number }).port}`;
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  downEndpoint = `127.0.0.1:${(closed.address() as { port: number }).port}`;
  await new Promise<void>((r) => closed.close(() => r()));
  proxy = await startProxy(ch.anvil.url);
  for (let i = 0; i < 5; i++)
    agents.push(await newAgent(i, i === 0 ? liar(dirs[i]!) : honest(dirs[i]!), i === 4));
}, 60_000);

afterAll(async () => {
  for (const a of agents) await a.stop().catch(() => {});
  executorUp?.close();
  proxy?.server.close();
  await ch?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('witness agent', () => {
  it('registers a new witness with approve + register, and reuses existing registrations', async () => {
    expect(agents[4]!.registration).toMatchObject({ reused: false, eligible: true });
    expect(agents[4]!.registration!.stake).toBe(ch.params.minWitnessStake);
    for (const a of agents.slice(0, 4)) expect(a.registration!.reused).toBe(true);
    expect(await ch.c.registry.eligibleCount()).toBe(5n);
  });

  it('good provider: Ok; honest members +rewardUnit, the liar loses rewardUnit of stake; sends and reads survive the RPC going away', async () => {
    target = upEndpoint;
    const { roundId } = await drawnRound(0);
    await until('all drawn', () => allIn(roundId, ['drawn']));
    // Agent 4 reads the chain through the proxy: take it down for a few ticks, and drop its first send.
    proxy.down = true;
    const round = await ch.c.witnessPool.round(roundId);
    await ch.advanceTo(round.epochEnd);
    await until('four commits', () => allIn(roundId, ['committed'], agents.slice(0, 4)));
    await until('failed reads recorded', () =>
      agents[4]!.store.agent.failures.some((f) => f.code === 'CHAIN_UNAVAILABLE'),
    );
    proxy.dropSends = 1;
    proxy.down = false;
    await until(
      'agent 4 commits after the endpoint is back',
      () => phaseOf(agents[4]!, roundId) === 'committed',
    );
    expect(proxy.dropped).toBeGreaterThan(1);
    expect(logs.join('')).toContain('transaction failed transiently; retrying');
    const addrs = agents.map((a) => a.witness);
    const token0 = await Promise.all(addrs.map(tokenOf));
    const stake0 = await Promise.all(addrs.map(stakeOf));
    await ch.advanceTo(round.commitDeadline);
    await until('all finalized', () => allIn(roundId, ['finalized']));
    const r = await ch.c.witnessPool.round(roundId);
    expect(r.phase).toBe(WitnessPoolPhase.Finalized);
    expect(r.verdict).toBe(WitnessPoolVerdict.Ok);
    expect(agents.filter((a) => rec(a, roundId)!.finalizeTx !== undefined).length).toBeGreaterThanOrEqual(1);
    for (const [i, a] of agents.entries()) {
      const out = rec(a, roundId)!;
      expect(out.sealed!.verdict).toBe(i === 0 ? 'Fraud' : 'Ok');
      expect(out.outcome!.verdict).toBe('Ok');
      expect(out.commitTx && out.revealTx).toBeTruthy();
      const dToken = (await tokenOf(a.witness)) - token0[i]!;
      const dStake = (await stakeOf(a.witness)) - stake0[i]!;
      if (i === 0) {
        expect([dToken, dStake]).toEqual([0n, -unit()]);
        expect(out.outcome!.paid).toBe((-unit()).toString());
      } else {
        // gas is paid in ETH, not tokens: the token balance moves by the reward exactly
        expect([dToken, dStake]).toEqual([unit(), 0n]);
        expect(out.outcome!.paid).toBe(unit().toString());
      }
    }
  });

  it('bad provider: the honest majority reports Unavailable, the collateral is slashed, customer and reporters paid', async () => {
    target = downEndpoint;
    const { leaseId, roundId } = await drawnRound(1);
    await until('all drawn', () => allIn(roundId, ['drawn']));
    const round = await ch.c.witnessPool.round(roundId);
    await ch.advanceTo(round.epochEnd);
    await until('all committed', () => allIn(roundId, ['committed']));
    const addrs = agents.map((a) => a.witness);
    const token0 = await Promise.all(addrs.map(tokenOf));
    const [, collateral0] = await ch.c.registry.leaseCollateral(leaseId);
    const customer0 = await tokenOf(ch.customer.address);
    await ch.advanceTo(round.commitDeadline);
    await until('all finalized', () => allIn(roundId, ['finalized']));
    expect((await ch.c.witnessPool.round(roundId)).verdict).toBe(WitnessPoolVerdict.Unavailable);
    const [, collateral1] = await ch.c.registry.leaseCollateral(leaseId);
    const slashed = (collateral0 * ch.params.providerSlashBps) / 10_000n;
    expect(collateral0 - collateral1).toBe(slashed);
    const perReporter = (slashed * ch.params.witnessShareBps) / 10_000n / 4n;
    for (const [i, a] of agents.entries()) {
      const out = rec(a, roundId)!;
      expect(out.sealed!.verdict).toBe(i === 0 ? 'Ok' : 'Unavailable');
      expect(out.evaluation!.evidencePath).toMatch(/reachability-\d+\.json$/);
      const d = (await tokenOf(a.witness)) - token0[i]!;
      expect(d).toBe(i === 0 ? 0n : unit() + perReporter);
      expect(out.outcome!.paid).toBe(d.toString());
    }
    // the customer gets its share of the slash (and the refund of the failed lease's escrow)
    expect((await tokenOf(ch.customer.address)) - customer0).toBeGreaterThanOrEqual(
      (slashed * ch.params.customerShareBps) / 10_000n,
    );
  });

  it('an agent killed between commit and reveal is replaced by one on its state directory, which reveals', async () => {
    target = upEndpoint;
    const { roundId } = await drawnRound(2);
    await until('all drawn', () => allIn(roundId, ['drawn']));
    const round = await ch.c.witnessPool.round(roundId);
    await ch.advanceTo(round.epochEnd);
    await until('all committed', () => allIn(roundId, ['committed']));
    const victim = agents[2]!;
    const sealed = rec(victim, roundId)!.sealed!;
    expect(await ch.c.witnessPool.commitments(roundId, victim.witness)).toBe(sealed.commitment);
    victim.kill();
    await ch.advanceTo(round.commitDeadline);
    await until('the others revealed', () =>
      allIn(
        roundId,
        ['settling', 'finalized'],
        agents.filter((a) => a !== victim),
      ),
    );
    const heir = await newAgent(2, honest(dirs[2]!));
    agents[2] = heir;
    await until('all finalized', () => allIn(roundId, ['finalized']));
    const revealed = await ch.c.witnessPool.queryFilter(
      ch.c.witnessPool.filters.VerdictRevealed!(roundId, victim.witness),
    );
    expect(revealed).toHaveLength(1);
    const out = rec(heir, roundId)!;
    expect(out.sealed!.salt).toBe(sealed.salt); // the heir did not evaluate again
    expect(out.revealTx).toBe(revealed[0]!.transactionHash);
    expect(out.outcome).toMatchObject({ verdict: 'Ok', paid: unit().toString() });
  });

  it('a commit that reverts after its window is recorded, shown by status, and the round still settles', async () => {
    target = upEndpoint;
    const slow = agents[3]!;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    await slow.stop();
    const blocked: Evaluator = {
      name: 'blocked',
      async evaluate(i) {
        await gate;
        return honest(dirs[3]!).evaluate(i);
      },
    };
    agents[3] = await newAgent(3, blocked);
    const { roundId } = await drawnRound(0);
    await until('all drawn', () => allIn(roundId, ['drawn']));
    const round = await ch.c.witnessPool.round(roundId);
    await ch.advanceTo(round.epochEnd);
    const others = agents.filter((_, i) => i !== 3);
    await until('the others committed', () => allIn(roundId, ['committed'], others));
    // The next block is past the deadline, while the latest one still shows the window open.
    await ch.provider.send('evm_setNextBlockTimestamp', [Number(round.commitDeadline) + 1]);
    release();
    await until('the revert recorded', () =>
      (rec(agents[3]!, roundId)?.failures ?? []).some((f) => f.error === 'WitnessPoolCommitClosed'),
    );
    const r3 = rec(agents[3]!, roundId)!;
    expect(r3.missed).toBe('commit');
    expect(r3.failures.map((f) => f.code)).toEqual(expect.arrayContaining(['TX_REVERTED', 'WINDOW_MISSED']));
    // status reads the disk: the record there says the same
    await until('status shows the missed commit', async () => {
      const s = await agentStatus(dirs[3]!);
      return s.rounds.find((x) => x.roundId === roundId.toString())?.missed === 'commit';
    });
    const s = await agentStatus(dirs[3]!);
    const row = s.rounds.find((x) => x.roundId === roundId.toString())!;
    expect(row.failures.some((f) => f.error === 'WitnessPoolCommitClosed')).toBe(true);
    expect(s.note).toContain('local state only');
    await ch.mine(1); // a commit refused at estimation mined no block: move the chain past the deadline
    // the reveal window passes with one member silent; the round settles and the no-show is penalised
    await until('the others revealed', () => allIn(roundId, ['settling', 'finalized'], others));
    await ch.advanceTo(round.commitDeadline + ch.params.revealWindow);
    await until('all finalized', () => allIn(roundId, ['finalized']));
    expect(rec(agents[3]!, roundId)!.outcome!.paid).toBe((-2n * unit()).toString());
  });

  it('CLI: witness --help, witness status --json on a state directory, with and without --rpc', async () => {
    const help = await runCli('witness', 'start', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('--state-dir');
    expect(help.out).toContain('always-ok');
    const local = await runCli('witness', 'status', '--state-dir', dirs[1]!, '--json');
    expect(local.code).toBe(0);
    const j = onlyJson<{ rounds: { phase: string; outcome: string }[]; balances: unknown; note: string }>(
      local.out,
    );
    expect(j.rounds.length).toBe(4);
    expect(j.rounds.every((r) => r.phase === 'finalized')).toBe(true);
    expect(j.balances).toBeNull();
    const dep = join(root, 'deployment.json');
    await (await import('node:fs/promises')).writeFile(dep, JSON.stringify(ch.deployment));
    const withRpc = await runCli(
      'witness',
      'status',
      '--state-dir',
      dirs[1]!,
      '--rpc',
      ch.anvil.url,
      '--deployment',
      dep,
      '--json',
    );
    expect(withRpc.code, withRpc.out + withRpc.err).toBe(0);
    const b = onlyJson<{ balances: { token: string; stake: string; eligible: boolean } }>(
      withRpc.out,
    ).balances;
    expect(BigInt(b.token)).toBe(await tokenOf(agents[1]!.witness));
    expect(b.eligible).toBe(true);
    const missing = await runCli('witness', 'status', '--state-dir', join(root, 'nope'), '--json');
    expect(missing.code).toBe(2);
  });
});

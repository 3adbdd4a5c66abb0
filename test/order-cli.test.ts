/*
 * `defaas order post|status|cancel` and `chain fund` on a real anvil with DEV_PARAMS: the test plays the
 * provider with the Market binding (executors registered by the fixture with their enclave's proof of
 * possession) and moves the chain's clock; the CLI, in-process, plays the customer: it posts, closes the
 * bidding, expires an unconfirmed offer, starts the lease and reports it, or reports a failed order with
 * its refund. Hostile and broken inputs: an endpoint that does not answer, a deployment of another chain,
 * terms the Market refuses, a wallet without tokens.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keccak256, parseEther, toUtf8Bytes, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_PARAMS } from '../cli/commands/chain.js';
import { bidCommitment, MarketState } from '../contracts/bindings/index.js';
import {
  atLeast,
  type Chain,
  CLAIMED_GFLOPS,
  executorSpec,
  salt,
  startChain,
} from '../contracts/test/chain-fixture.js';
import { expectFailure, onlyJson, runCli } from './cli-run.js';
import { startRpcProxy } from './rpc-proxy.js';

let ch: Chain;
const dir = mkdtempSync(join(tmpdir(), 'defaas-order-'));
const deploymentFile = join(dir, 'deployment.json');
const customer = new Wallet(keccak256(toUtf8Bytes('order cli test customer')));
const customerKey = join(dir, 'customer.key');
const LEVEL = '1';
const DURATION = 120n;
const MAX_PRICE = parseEther('0.001');

/** Polls `f` every 50 ms until it returns a value other than undefined; fails after `ms`. */
async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (let i = 0; i < ms / 50 + 1; i++) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The next order's id, once the CLI has posted it. */
async function posted(before: bigint): Promise<bigint> {
  return until('the order', async () => {
    const n = await ch.c.market.orderCount();
    return n > before ? n : undefined;
  });
}

async function inState(
  orderId: bigint,
  s: bigint,
  extra: (o: { runnerUpOffered: boolean }) => boolean = () => true,
) {
  return until(`order ${orderId} in state ${s}`, async () => {
    const o = await ch.c.market.order(orderId);
    return o.state === s && extra(o) ? o : undefined;
  });
}

/** Provider `i` commits a sealed bid of `price` on the order; returns its reveal. */
async function bid(orderId: bigint, i: number, price: bigint): Promise<() => Promise<bigint>> {
  const p = ch.providers[i]!;
  const s = salt(`order cli ${orderId} ${i}`);
  const commitment = bidCommitment(
    BigInt(ch.deployment.chainId),
    ch.deployment.contracts.market,
    orderId,
    p.address,
    price,
    CLAIMED_GFLOPS,
    s,
  );
  await ch.tx('commitBid', ch.c.market.connect(p.signer).commitBid(orderId, ch.executorIds[i]!, commitment));
  const index = (await ch.c.market.order(orderId)).bidCount - 1n;
  return () =>
    ch.tx('revealBid', ch.c.market.connect(p.signer).revealBid(orderId, index, price, CLAIMED_GFLOPS, s));
}

const chainArgs = () => ['--deployment', deploymentFile, '--key', customerKey];
const postArgs = (...extra: string[]) => [
  'order',
  'post',
  ...chainArgs(),
  '--level',
  LEVEL,
  '--duration',
  String(DURATION),
  '--max-price',
  String(MAX_PRICE),
  '--committee',
  '3/2',
  '--bidding-window',
  '20',
  '--json',
  ...extra,
];
const WAIT = ['--wait', '--poll-ms', '50', '--timeout', '60'];

beforeAll(async () => {
  ch = await startChain({ providers: 2, witnesses: 0, params: DEV_PARAMS });
  writeFileSync(deploymentFile, JSON.stringify(ch.deployment));
  writeFileSync(customerKey, `${customer.privateKey}\n`);
  const r = await runCli(
    'chain',
    'fund',
    '--deployment',
    deploymentFile,
    '--to',
    customer.address,
    '--tokens',
    '1000',
    '--eth',
    '10',
    '--json',
  );
  expect(r.code, r.out + r.err).toBe(0);
}, 60_000);

afterAll(async () => {
  await ch?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('order post --wait', () => {
  it('follows the auction: closes the bidding, starts the confirmed lease and prints it', async () => {
    const before = await ch.c.market.orderCount();
    const run = runCli(...postArgs(...WAIT));
    const orderId = await posted(before);
    const o = await ch.c.market.order(orderId);
    const price = MAX_PRICE / 2n;
    const reveal = await bid(orderId, 0, price);
    await atLeast(ch, o.bidDeadline);
    await reveal();
    await atLeast(ch, o.revealDeadline);
    // The CLI closes the bidding (anyone may); the provider confirms.
    await inState(orderId, MarketState.Confirming);
    await ch.tx(
      'confirmLease',
      ch.c.market.connect(ch.providers[0]!.signer).confirmLease(orderId, 'grpc://127.0.0.1:7000'),
    );
    const r = await run;
    expect(r.code, r.out + r.err).toBe(0);
    const out = onlyJson<{ orderId: string; lease: Record<string, string> }>(r.out);
    expect(out.orderId).toBe(orderId.toString());
    const spec = executorSpec(ch.enclaves[0]!.address, 0);
    expect(out.lease).toMatchObject({
      leaseId: orderId.toString(),
      executorId: ch.executorIds[0]!.toString(),
      provider: ch.providers[0]!.address,
      enclave: ch.enclaves[0]!.address,
      endpoint: spec.endpoint,
      evidenceHash: spec.evidenceHash,
      unitPrice: price.toString(),
      deployment: 'grpc://127.0.0.1:7000',
    });
    const after = await ch.c.market.order(orderId);
    expect(after.state).toBe(MarketState.Fulfilling);
    expect(after.customer).toBe(customer.address);
    expect(out.lease.startedAt).toBe(after.startedAt.toString());
    expect(r.err).toMatch(/closing the bidding/);
    expect(r.err).toMatch(/starting the lease/);

    const s = await runCli('order', 'status', orderId.toString(), '--deployment', deploymentFile, '--json');
    expect(s.code, s.out + s.err).toBe(0);
    const status = onlyJson<{ status: Record<string, unknown> }>(s.out).status;
    expect(status).toMatchObject({ state: 'fulfilling', offered: { index: 0, price: price.toString() } });
    expect((status.lease as Record<string, string>).endpoint).toBe(spec.endpoint);
    expect(status.next).toMatch(/lease runs until/);
  }, 60_000);

  it('expires an offer its provider never confirms: the runner-up is offered, confirms, and the lease starts', async () => {
    const before = await ch.c.market.orderCount();
    const run = runCli(...postArgs(...WAIT));
    const orderId = await posted(before);
    const o = await ch.c.market.order(orderId);
    const low = MAX_PRICE / 4n;
    const high = MAX_PRICE / 2n;
    const reveals = [await bid(orderId, 0, low), await bid(orderId, 1, high)];
    await atLeast(ch, o.bidDeadline);
    for (const reveal of reveals) await reveal();
    await atLeast(ch, o.revealDeadline);
    const offered = await inState(orderId, MarketState.Confirming);
    expect(offered.winner).toBe(0n);
    // Provider 0 (the winner) stays silent past the confirm window; the CLI expires the offer.
    await atLeast(ch, offered.stepDeadline);
    const second = await inState(orderId, MarketState.Confirming, (x) => x.runnerUpOffered);
    expect(second.winner).toBe(1n);
    await ch.tx(
      'confirmLease',
      ch.c.market.connect(ch.providers[1]!.signer).confirmLease(orderId, 'grpc://127.0.0.1:7001'),
    );
    const r = await run;
    expect(r.code, r.out + r.err).toBe(0);
    const lease = onlyJson<{ lease: Record<string, string> }>(r.out).lease;
    expect(lease).toMatchObject({
      executorId: ch.executorIds[1]!.toString(),
      unitPrice: high.toString(),
      deployment: 'grpc://127.0.0.1:7001',
    });
    expect(r.err).toMatch(/did not confirm/);
    expect(r.err).toMatch(/runner-up bid #1/);
  }, 60_000);

  it('with one bid that is never confirmed: expire fails the order, ORDER_FAILED with the refund', async () => {
    const before = await ch.c.market.orderCount();
    const balance = await ch.c.token.balanceOf(customer.address);
    const run = runCli(...postArgs(...WAIT));
    const orderId = await posted(before);
    const o = await ch.c.market.order(orderId);
    const reveal = await bid(orderId, 0, MAX_PRICE);
    await atLeast(ch, o.bidDeadline);
    await reveal();
    await atLeast(ch, o.revealDeadline);
    await inState(orderId, MarketState.Confirming);
    await atLeast(ch, (await ch.c.market.order(orderId)).stepDeadline);
    const r = await run;
    expect(r.code, r.out + r.err).toBe(4);
    const f = expectFailure(r.out, 'ORDER_FAILED', 'rejected');
    expect(f.info).toMatchObject({ orderId: orderId.toString(), from: 'confirming' });
    expect((await ch.c.market.order(orderId)).state).toBe(MarketState.Failed);
    // Everything came back, and the silent bidder's bond besides.
    expect(await ch.c.token.balanceOf(customer.address)).toBe(balance + o.bidBond);
  }, 60_000);
});

describe('order status and a failed auction', () => {
  it('a confirmed lease the customer did not start in time: status --wait expires it, ORDER_FAILED from deploying', async () => {
    const p = await runCli(...postArgs());
    const orderId = BigInt(onlyJson<{ orderId: string }>(p.out).orderId);
    const o = await ch.c.market.order(orderId);
    const reveal = await bid(orderId, 0, MAX_PRICE / 2n);
    await atLeast(ch, o.bidDeadline);
    await reveal();
    await atLeast(ch, o.revealDeadline);
    await ch.tx('closeBidding', ch.c.market.closeBidding(orderId));
    await ch.tx(
      'confirmLease',
      ch.c.market.connect(ch.providers[0]!.signer).confirmLease(orderId, 'grpc://127.0.0.1:7000'),
    );
    const s = await runCli('order', 'status', orderId.toString(), '--deployment', deploymentFile, '--json');
    const status = onlyJson<{ status: Record<string, unknown> }>(s.out).status;
    expect(status).toMatchObject({
      state: 'deploying',
      next: expect.stringMatching(/customer starts the lease/),
    });
    expect((status.lease as Record<string, string>).deployment).toBe('grpc://127.0.0.1:7000');
    await atLeast(ch, (await ch.c.market.order(orderId)).stepDeadline);
    const r = await runCli('order', 'status', orderId.toString(), ...chainArgs(), ...WAIT, '--json');
    expect(r.code, r.out + r.err).toBe(4);
    const f = expectFailure(r.out, 'ORDER_FAILED', 'rejected');
    expect(f.info).toMatchObject({ orderId: orderId.toString(), from: 'deploying' });
    expect(BigInt((f.info as Record<string, string>).providerPaid!)).toBeGreaterThan(0n);
    expect((await ch.c.market.order(orderId)).state).toBe(MarketState.Failed);
  }, 60_000);

  it('nobody bids: status says what comes next at each step; --wait closes the bidding and reports NO_BIDS with the refund', async () => {
    const balance = await ch.c.token.balanceOf(customer.address);
    const p = await runCli(...postArgs());
    expect(p.code, p.out + p.err).toBe(0);
    const { orderId, order } = onlyJson<{
      orderId: string;
      order: { escrow: string; bidDeadline: string; revealDeadline: string };
    }>(p.out);
    expect(await ch.c.token.balanceOf(customer.address)).toBe(balance - BigInt(order.escrow));

    const status = async () => {
      const s = await runCli('order', 'status', orderId, '--deployment', deploymentFile, '--json');
      expect(s.code, s.out + s.err).toBe(0);
      return onlyJson<{ status: Record<string, unknown> }>(s.out).status;
    };
    expect(await status()).toMatchObject({
      state: 'bidding',
      bids: [],
      next: expect.stringMatching(/cancel/),
    });
    await atLeast(ch, BigInt(order.bidDeadline));
    expect((await status()).next).toMatch(/reveal/);
    await atLeast(ch, BigInt(order.revealDeadline));
    expect((await status()).next).toMatch(/anyone may close the bidding/);

    const r = await runCli('order', 'status', orderId, ...chainArgs(), ...WAIT, '--json');
    expect(r.code, r.out + r.err).toBe(4);
    const f = expectFailure(r.out, 'NO_BIDS', 'rejected');
    expect(f.message).toMatch(/went back to the customer/);
    expect(f.info).toMatchObject({ orderId, refunded: order.escrow });
    expect(await ch.c.token.balanceOf(customer.address)).toBe(balance);
    expect(await status()).toMatchObject({ state: 'failed', escrow: '0' });
  }, 60_000);

  it('cancel takes back an order with no bid; not twice, not one with a bid, not another key', async () => {
    const balance = await ch.c.token.balanceOf(customer.address);
    const p = await runCli(...postArgs());
    const { orderId } = onlyJson<{ orderId: string }>(p.out);
    const c = await runCli('order', 'cancel', orderId, ...chainArgs(), '--json');
    expect(c.code, c.out + c.err).toBe(0);
    expect(await ch.c.token.balanceOf(customer.address)).toBe(balance);
    const again = await runCli('order', 'cancel', orderId, ...chainArgs(), '--json');
    expect(again.code).toBe(2);
    expect(expectFailure(again.out, 'ORDER_WRONG_STATE', 'usage').message).toMatch(/cancelled/);

    const p2 = await runCli(...postArgs());
    const id2 = BigInt(onlyJson<{ orderId: string }>(p2.out).orderId);
    await bid(id2, 0, MAX_PRICE);
    const withBid = await runCli('order', 'cancel', id2.toString(), ...chainArgs(), '--json');
    expect(expectFailure(withBid.out, 'ORDER_WRONG_STATE', 'usage').message).toMatch(/1 bid/);
    const otherKey = join(dir, 'other.key');
    writeFileSync(otherKey, keccak256(toUtf8Bytes('someone else')));
    const other = await runCli(
      'order',
      'cancel',
      id2.toString(),
      '--deployment',
      deploymentFile,
      '--key',
      otherKey,
      '--json',
    );
    expect(expectFailure(other.out, 'NOT_CUSTOMER', 'usage').code).toBe('NOT_CUSTOMER');
    const unknown = await runCli('order', 'status', '999', '--deployment', deploymentFile, '--json');
    expect(unknown.code).toBe(2);
    expectFailure(unknown.out, 'ORDER_UNKNOWN', 'usage');
  }, 60_000);

  it('--timeout leaves the order as it is and names it for `order status --wait`', async () => {
    const before = await ch.c.market.orderCount();
    const t0 = Date.now();
    const r = await runCli(...postArgs('--wait', '--poll-ms', '50', '--timeout', '1'));
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.code, r.out + r.err).toBe(3);
    const orderId = (before + 1n).toString();
    const f = expectFailure(r.out, 'WAIT_TIMEOUT', 'transient');
    expect(f.info).toMatchObject({ orderId, state: 'bidding' });
    expect(f.message).toContain(`defaas order status ${orderId} --wait`);
    expect((await ch.c.market.order(BigInt(orderId))).state).toBe(MarketState.Bidding);
  }, 30_000);
});

describe('hostile and broken inputs', () => {
  it('an endpoint that does not answer: CHAIN_UNAVAILABLE, exit 3, in bounded time', async () => {
    for (const args of [
      postArgs('--rpc', 'http://127.0.0.1:9'),
      ['order', 'status', '1', '--rpc', 'http://127.0.0.1:9', '--deployment', deploymentFile, '--json'],
    ]) {
      const t0 = Date.now();
      const r = await runCli(...args);
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(r.code, r.out + r.err).toBe(3);
      expectFailure(r.out, 'CHAIN_UNAVAILABLE', 'transient');
    }
  }, 40_000);

  it('the endpoint going away during --wait: CHAIN_UNAVAILABLE naming the order to resume, in bounded time', async () => {
    // A forwarding proxy to anvil, closed once the CLI is waiting.
    const proxy = await startRpcProxy(ch.anvil.url);
    const { methods } = proxy;
    const rpc = proxy.url;
    try {
      const before = await ch.c.market.orderCount();
      const run = runCli(...postArgs(...WAIT, '--rpc', rpc));
      const orderId = await posted(before);
      // The post ends with a log query (its order id); the wait then reads the chain's clock.
      await until('the wait', async () => {
        const logs = methods.lastIndexOf('eth_getLogs');
        return logs >= 0 && methods.indexOf('eth_getBlockByNumber', logs) > logs ? true : undefined;
      });
      proxy.close();
      const t0 = Date.now();
      const r = await run;
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(r.code, r.out + r.err).toBe(3);
      const f = expectFailure(r.out, 'CHAIN_UNAVAILABLE', 'transient');
      expect(f.info).toMatchObject({ rpc, orderId: orderId.toString() });
      expect(f.message).toContain(`defaas order status ${orderId} --wait`);
      expect((await ch.c.market.order(orderId)).state).toBe(MarketState.Bidding);
    } finally {
      proxy.close();
    }
  }, 30_000);

  it('a deployment file of another chain: usage error naming both chain ids', async () => {
    const other = join(dir, 'other-chain.json');
    writeFileSync(other, JSON.stringify({ ...ch.deployment, chainId: 1 }));
    const r = await runCli('order', 'status', '1', '--deployment', other, '--json');
    expect(r.code).toBe(2);
    const f = expectFailure(r.out, 'INVALID_ARGUMENT', 'usage');
    expect(f.message).toMatch(/chain 31337.*chain 1\b/);
  });

  it('terms the Market refuses: the decoded custom error, and no approval sent', async () => {
    const allowance = await ch.c.token.allowance(customer.address, ch.deployment.contracts.market);
    const cases: [string[], string][] = [
      [['--level', '99'], 'MarketUnknownLevel'],
      [['--max-price', '0'], 'MarketBadOrder'],
      [['--committee', '4/2'], 'WitnessPool'],
    ];
    for (const [flags, error] of cases) {
      const args = postArgs();
      for (let i = 0; i < flags.length; i += 2) args[args.indexOf(flags[i]!) + 1] = flags[i + 1]!;
      const r = await runCli(...args);
      expect(r.code, r.out + r.err).toBe(4);
      const f = expectFailure(r.out, 'TX_REVERTED', 'rejected');
      expect(String((f.info as Record<string, unknown>).error)).toContain(error);
    }
    expect(await ch.c.token.allowance(customer.address, ch.deployment.contracts.market)).toBe(allowance);
  });

  it('a wallet without tokens: ERC20InsufficientBalance; without gas money: NO_GAS_MONEY, nothing posted', async () => {
    const poor = new Wallet(keccak256(toUtf8Bytes('order cli poor customer')));
    const poorKey = join(dir, 'poor.key');
    writeFileSync(poorKey, poor.privateKey);
    const before = await ch.c.market.orderCount();
    const noEth = await runCli(...postArgs('--key', poorKey));
    expect(noEth.code, noEth.out + noEth.err).not.toBe(0);
    const f0 = expectFailure(noEth.out, 'NO_GAS_MONEY', 'rejected');
    expect(f0.message).toContain(`defaas chain fund --to ${poor.address}`);
    await ch.provider.send('anvil_setBalance', [poor.address, '0x8AC7230489E80000']);
    const r = await runCli(...postArgs('--key', poorKey));
    expect(r.code, r.out + r.err).toBe(4);
    const f = expectFailure(r.out, 'TX_REVERTED', 'rejected');
    expect((f.info as Record<string, unknown>).error).toBe('ERC20InsufficientBalance');
    expect(await ch.c.market.orderCount()).toBe(before);
  });
});

describe('the command line', () => {
  it('--help of every order command and of chain fund names --json and the exit codes', async () => {
    for (const args of [
      ['order', 'post'],
      ['order', 'status'],
      ['order', 'cancel'],
      ['chain', 'fund'],
    ]) {
      const r = await runCli(...args, '--help');
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.out).toMatch(/--json/);
      expect(r.out).toMatch(/Exit codes: 0 ok/);
    }
  });

  it.each([
    ['--committee 5 (size/majority)', ['--committee', '5']],
    ['--committee 5/3/1', ['--committee', '5/3/1']],
    ['--duration -1', ['--duration', '-1']],
    ['--max-price 1.5 (base units)', ['--max-price', '1.5']],
    ['--availability-bps 10001', ['--availability-bps', '10001']],
    ['--timeout 0', ['--timeout', '0']],
    ['--rpc ftp://x', ['--rpc', 'ftp://127.0.0.1:9']],
  ])('%s is a usage error before any network', async (_name, flags) => {
    const r = await runCli(...postArgs(...flags));
    expect(r.code, r.out).toBe(2);
    expectFailure(r.out, 'INVALID_ARGUMENT', 'usage');
  });

  it('a missing --level, key file, or order id 0 is a usage error; the key is never echoed', async () => {
    const noLevel = postArgs();
    noLevel.splice(noLevel.indexOf('--level'), 2);
    expect((await runCli(...noLevel)).code).toBe(2);
    const noKey = await runCli(
      'order',
      'post',
      '--deployment',
      deploymentFile,
      '--level',
      '1',
      '--duration',
      '60',
      '--max-price',
      '1',
      '--json',
    );
    expect(noKey.code).toBe(2);
    expect(expectFailure(noKey.out, 'MISSING_ARGUMENT', 'usage').message).toMatch(/DEFAAS_CUSTOMER_KEY/);
    const badKey = join(dir, 'bad.key');
    writeFileSync(badKey, 'not a key but a secret 1234\n');
    const r = await runCli('order', 'cancel', '1', '--deployment', deploymentFile, '--key', badKey, '--json');
    expect(expectFailure(r.out, 'FILE_INVALID', 'usage').code).toBe('FILE_INVALID');
    expect(r.out + r.err).not.toContain('secret 1234');
    expect((await runCli('order', 'status', '0', '--deployment', deploymentFile, '--json')).code).toBe(2);
  });
});

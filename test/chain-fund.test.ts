/*
 * `defaas chain up --params dev` and `defaas chain fund`: the embedded anvil keeps mining a block a
 * second with no transaction (so the market's windows close on a quiet chain) while transactions are
 * still mined at once; the dev windows are what the Market holds; `chain fund` sends tokens from the
 * deployer and sets gas money with anvil_setBalance; bad addresses, amounts and keys are refused.
 * The README's sequence in real time, with provider processes, is test/e2e-providers.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonRpcProvider, keccak256, parseEther, toUtf8Bytes, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainUp, DEV_PARAMS } from '../cli/commands/chain.js';
import type { Anvil } from '../contracts/anvil.js';
import { connectMarket, connectToken } from '../contracts/bindings/index.js';
import type { Deployment } from '../contracts/deploy.js';
import { expectFailure, onlyJson, runCli } from './cli-run.js';
import { startRpcProxy } from './rpc-proxy.js';

const dir = mkdtempSync(join(tmpdir(), 'defaas-fund-'));
const out = join(dir, 'deployment.json');
let anvil: Anvil | undefined;
let deployment: Deployment;
let provider: JsonRpcProvider;

const a = new Wallet(keccak256(toUtf8Bytes('fund test a'))).address;
const b = new Wallet(keccak256(toUtf8Bytes('fund test b'))).address;

beforeAll(async () => {
  const r = await chainUp({ out, params: 'dev' });
  anvil = r.anvil;
  deployment = r.deployment;
  expect(r.params).toBe('dev');
  provider = new JsonRpcProvider(deployment.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
}, 60_000);

afterAll(async () => {
  provider?.destroy();
  await anvil?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('chain up --params dev', () => {
  it('deploys the dev windows', async () => {
    const p = await connectMarket(deployment.contracts.market, provider).params();
    expect([p.minBiddingWindow, p.revealWindow, p.confirmWindow, p.deployWindow, p.minEpochLength]).toEqual([
      DEV_PARAMS.minBiddingWindow,
      DEV_PARAMS.bidRevealWindow,
      DEV_PARAMS.confirmWindow,
      DEV_PARAMS.deployWindow,
      DEV_PARAMS.minEpochLength,
    ]);
    expect(p.minBiddingWindow).toBe(5n);
  });

  it('anvil mines by interval with no transaction, and chain time follows the wall clock', async () => {
    const first = await provider.getBlock('latest');
    const t0 = Date.now();
    let last = first!;
    for (let i = 0; i < 60 && last.number < first!.number + 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      last = (await provider.getBlock('latest'))!;
    }
    expect(last.number).toBeGreaterThanOrEqual(first!.number + 2);
    expect(Date.now() - t0).toBeLessThan(6_000);
    expect(last.timestamp).toBeGreaterThan(first!.timestamp);
  });

  it('with --rpc, deploys the dev parameters there and says which', async () => {
    const r = await runCli(
      'chain',
      'up',
      '--rpc',
      deployment.rpcUrl,
      '--out',
      join(dir, 'again.json'),
      '--params',
      'dev',
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/with the dev parameters \(bidding ≥ 5 s, reveal 10 s, confirm 60 s/);
    const bad = await runCli('chain', 'up', '--params', 'fast', '--json');
    expect(bad.code).toBe(2);
    expectFailure(bad.out, 'INVALID_ARGUMENT', 'usage');
  }, 60_000);
});

describe('chain fund', () => {
  it('sends tokens from the deployer and sets gas money on anvil; tokens add up, the gas balance is set', async () => {
    const token = connectToken(deployment.contracts.token, provider);
    const args = [
      'chain',
      'fund',
      '--deployment',
      out,
      '--to',
      `${a},${b}`,
      '--tokens',
      '2.5',
      '--eth',
      '3',
      '--json',
    ];
    const r = await runCli(...args);
    expect(r.code, r.out + r.err).toBe(0);
    const res = onlyJson<{ anvil: boolean; funded: { address: string; tokens: string; eth: string }[] }>(
      r.out,
    );
    expect(res.anvil).toBe(true);
    expect(res.funded.map((f) => [f.address, f.tokens, f.eth])).toEqual([
      [a.toLowerCase(), parseEther('2.5').toString(), parseEther('3').toString()],
      [b.toLowerCase(), parseEther('2.5').toString(), parseEther('3').toString()],
    ]);
    const again = await runCli(...args);
    expect(again.code).toBe(0);
    expect(await token.balanceOf(a)).toBe(parseEther('5'));
    expect(await provider.getBalance(b)).toBe(parseEther('3'));
  }, 60_000);

  it('on an endpoint that is not anvil, gas money is an ETH transfer from the deployer (it adds up)', async () => {
    // anvil behind a proxy that says "method not found" to anvil's own methods and its client version.
    const proxy = await startRpcProxy(deployment.rpcUrl, (m) =>
      m.startsWith('anvil_') || m === 'web3_clientVersion'
        ? { error: { code: -32601, message: 'the method does not exist' } }
        : undefined,
    );
    try {
      const c = new Wallet(keccak256(toUtf8Bytes('fund test not anvil'))).address;
      const args = [
        'chain',
        'fund',
        '--rpc',
        proxy.url,
        '--deployment',
        out,
        '--to',
        c,
        '--tokens',
        '1',
        '--eth',
        '0.25',
        '--json',
      ];
      for (let i = 1; i <= 2; i++) {
        const r = await runCli(...args);
        expect(r.code, r.out + r.err).toBe(0);
        expect(onlyJson<{ anvil: boolean }>(r.out).anvil).toBe(false);
        expect(await provider.getBalance(c)).toBe(parseEther('0.25') * BigInt(i));
      }
      expect(proxy.methods).not.toContain('anvil_setBalance');
    } finally {
      proxy.close();
    }
  }, 60_000);

  it('refuses bad addresses and amounts, a foreign chain without a key, and a deployer without tokens', async () => {
    const base = ['chain', 'fund', '--deployment', out, '--json'];
    for (const bad of [
      ['--to', '0x1234', '--tokens', '1'],
      ['--to', a, '--tokens', '-1'],
      ['--to', a, '--tokens', '1e5'],
      ['--to', a, '--tokens', '0.0000000000000000001'],
      ['--to', a],
    ]) {
      const r = await runCli(...base, ...bad);
      expect(r.code, `${bad.join(' ')}: ${r.out}`).toBe(2);
    }
    const foreign = join(dir, 'foreign.json');
    writeFileSync(foreign, JSON.stringify({ ...deployment, chainId: 5 }));
    const f = await runCli('chain', 'fund', '--deployment', foreign, '--to', a, '--tokens', '1', '--json');
    expect(f.code).toBe(2);
    expect(expectFailure(f.out, 'MISSING_ARGUMENT', 'usage').message).toMatch(/--key/);

    const poor = new Wallet(keccak256(toUtf8Bytes('fund test poor deployer')));
    const keyFile = join(dir, 'poor.key');
    writeFileSync(keyFile, poor.privateKey);
    await provider.send('anvil_setBalance', [poor.address, '0x8AC7230489E80000']);
    const r = await runCli(...base, '--to', a, '--tokens', '1', '--key', keyFile);
    expect(r.code, r.out).toBe(4);
    expect(expectFailure(r.out, 'TX_REVERTED', 'rejected').info).toMatchObject({
      error: 'ERC20InsufficientBalance',
    });
  }, 60_000);
});

/*
 * `defaas provider start|status` and `defaas key` on bad input, each with its clear error and nothing
 * left behind: an unreachable chain (exit 3 after bounded retries), a stake below the Market's minimum
 * or more than the wallet holds (exit 4), a price policy file with a misspelt key or a claim above the
 * registered capacity (exit 2), a state directory held by a live agent.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEther, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Chain, startChain } from '../contracts/test/chain-fixture.js';
import { expectFailure, onlyJson, runCli } from './cli-run.js';

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

describe('defaas provider and key commands on bad input', () => {
  let ch: Chain;
  let dir: string;
  let deploymentFile: string;
  let keyFile: string;
  let poorKeyFile: string;

  beforeAll(async () => {
    ch = await startChain({ providers: 0, witnesses: 0 });
    dir = await mkdtemp(join(tmpdir(), 'defaas-provider-cli-'));
    deploymentFile = join(dir, 'deployment.json');
    await writeFile(deploymentFile, JSON.stringify({ ...ch.deployment, rpcUrl: ch.anvil.url }));
    keyFile = join(dir, 'provider.key');
    const made = await runCli('key', 'new', '--out', keyFile, '--json');
    expect(made.code, made.err).toBe(0);
    const { address } = onlyJson<{ address: string }>(made.out);
    await ch.provider.send('anvil_setBalance', [address, '0x3635C9ADC5DEA00000']);
    await ch.tx('fund', ch.c.token.connect(ch.deployer.signer).transfer(address, parseEther('1500')));
    poorKeyFile = join(dir, 'poor.key');
    await writeFile(poorKeyFile, `${Wallet.createRandom().privateKey.slice(2)}\n`, { mode: 0o600 });
  }, 60_000);

  afterAll(async () => {
    await ch?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const start = (stateDir: string, ...more: string[]) =>
    runCli(
      'provider',
      'start',
      '--deployment',
      deploymentFile,
      '--key',
      keyFile,
      '--state-dir',
      join(dir, stateDir),
      '--listen',
      '127.0.0.1:0',
      '--workers',
      '1',
      '--log-level',
      'silent',
      '--json',
      ...more,
    );

  it('key new writes a 0600 key file it never overwrites; key address reads it back', async () => {
    const again = await runCli('key', 'new', '--out', keyFile, '--json');
    expectFailure(again.out, 'FILE_UNWRITABLE', 'usage');
    expect(again.code).toBe(2);
    const a = await runCli('key', 'address', keyFile, '--json');
    expect(a.code).toBe(0);
    expect(onlyJson<{ address: string }>(a.out).address).toBe(
      new Wallet(`0x${(await readFile(keyFile, 'utf8')).trim()}`).address,
    );
  });

  it('an unreachable chain is CHAIN_UNAVAILABLE, exit 3, after bounded retries', async () => {
    const t = Date.now();
    const r = await start(
      'down',
      '--rpc',
      `http://127.0.0.1:${await closedPort()}`,
      '--rpc-timeout-ms',
      '500',
    );
    expect(r.code, r.out + r.err).toBe(3);
    expectFailure(r.out, 'CHAIN_UNAVAILABLE', 'transient');
    expect(Date.now() - t).toBeLessThan(30_000);
  }, 60_000);

  it('a stake below the minimum, or above what the wallet holds, is INSUFFICIENT_FUNDS before anything is sent', async () => {
    const low = await start('low', '--stake', '1');
    expect(low.code, low.out).toBe(4);
    expectFailure(low.out, 'INSUFFICIENT_FUNDS', 'rejected');
    const poor = await runCli(
      'provider',
      'start',
      '--deployment',
      deploymentFile,
      '--key',
      poorKeyFile,
      '--state-dir',
      join(dir, 'poor'),
      '--listen',
      '127.0.0.1:0',
      '--log-level',
      'silent',
      '--json',
    );
    expect(poor.code, poor.out).toBe(4);
    expectFailure(poor.out, 'INSUFFICIENT_FUNDS', 'rejected');
    expect(await ch.c.registry.executorCount()).toBe(0n);
  }, 60_000);

  it('a price policy with a misspelt key, or a claim above the registered capacity, is a usage error', async () => {
    const config = join(dir, 'policy.json');
    await writeFile(config, JSON.stringify({ minUnitPrice: '10', fracton: 0.5 }));
    const bad = await start('cfg', '--config', config);
    expect(bad.code, bad.out).toBe(2);
    expect(bad.out).toContain('fracton');
    const over = await start('over', '--gflops', '5', '--claimed-gflops', '50');
    expect(over.code, over.out).toBe(2);
    expectFailure(over.out, 'INVALID_ARGUMENT', 'usage');
    const fraction = await start('fraction', '--bid-fraction', '1.5');
    expect(fraction.code).toBe(2);
  }, 60_000);

  it('a state directory held by a live agent is STATE_LOCKED; status reads it without taking it', async () => {
    const stateDir = join(dir, 'locked');
    await mkdir(stateDir, { recursive: true });
    // pid 1 is alive and is not this process.
    await writeFile(join(stateDir, 'provider.lock'), '1\n');
    const r = await start('locked');
    expect(r.code, r.out).toBe(2);
    expectFailure(r.out, 'STATE_LOCKED', 'usage');
    const s = await runCli('provider', 'status', '--state-dir', stateDir, '--json');
    expect(s.code).not.toBe(0);
    expect(s.out).toContain('holds no provider state');
  }, 60_000);
});

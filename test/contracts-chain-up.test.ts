/*
 * `defaas chain up`: starts anvil, deploys and wires everything, writes the deployment file; with --rpc
 * it deploys to an existing endpoint and returns.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { JsonRpcProvider } from 'ethers';
import { afterAll, describe, expect, it } from 'vitest';
import { chainUp, registerChain } from '../cli/commands/chain.js';
import type { Anvil } from '../contracts/anvil.js';
import { connectMarket, connectToken, connectWitnessPool } from '../contracts/bindings/index.js';
import type { Deployment } from '../contracts/deploy.js';

const dir = mkdtempSync(join(tmpdir(), 'defaas-chain-'));
let anvil: Anvil | undefined;

afterAll(async () => {
  await anvil?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('contracts: defaas chain up', () => {
  it('starts anvil, deploys everything and writes the deployment file', async () => {
    const out = join(dir, 'deployment.json');
    const lines: string[] = [];
    const r = await chainUp({ out }, (l) => lines.push(l));
    anvil = r.anvil;
    expect(anvil?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const file = JSON.parse(readFileSync(out, 'utf8')) as Deployment;
    expect(file).toEqual(r.deployment);
    expect(file.chainId).toBe(31337);
    expect(Object.keys(file.contracts).sort()).toEqual(
      ['attestationLog', 'market', 'registry', 'settlement', 'token', 'witnessPool'].sort(),
    );
    expect(lines.join('\n')).toContain(file.contracts.market);

    const provider = new JsonRpcProvider(file.rpcUrl, undefined, {
      staticNetwork: true,
      cacheTimeout: -1,
      pollingInterval: 50,
    });
    try {
      for (const address of Object.values(file.contracts))
        expect((await provider.getCode(address)).length).toBeGreaterThan(2);
      const token = connectToken(file.contracts.token, provider);
      expect(await token.minter()).toBe(file.contracts.witnessPool);
      expect(await connectWitnessPool(file.contracts.witnessPool, provider).market()).toBe(
        file.contracts.market,
      );
      expect(await connectMarket(file.contracts.market, provider).levelCount()).toBe(3n);
    } finally {
      provider.destroy();
    }
  });

  it('with --rpc deploys to the given endpoint and returns', async () => {
    const out = join(dir, 'rpc.json');
    const program = new Command().exitOverride();
    registerChain(program);
    const log = console.log;
    console.log = () => {};
    try {
      await program.parseAsync(['chain', 'up', '--rpc', anvil!.url, '--out', out], { from: 'user' });
    } finally {
      console.log = log;
    }
    const file = JSON.parse(readFileSync(out, 'utf8')) as Deployment;
    expect(file.rpcUrl).toBe(anvil!.url);
    expect(file.contracts.token).not.toBe('');
  });
});

/*
 * `defaas chain up`: starts anvil, deploys and wires everything, writes the deployment file; with --rpc
 * it deploys to an existing endpoint and returns; the deployer key comes from --key <file>.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonRpcProvider } from 'ethers';
import { afterAll, describe, expect, it } from 'vitest';
import { chainUp } from '../cli/commands/chain.js';
import type { Anvil } from '../contracts/anvil.js';
import {
  connectMarket,
  connectRegistry,
  connectSettlement,
  connectToken,
  connectWitnessPool,
} from '../contracts/bindings/index.js';
import { DEFAULT_PARAMS, type Deployment } from '../contracts/deploy.js';
import { onlyJson, runCli } from './cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'defaas-chain-'));
let anvil: Anvil | undefined;

afterAll(async () => {
  await anvil?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('contracts: defaas chain up', () => {
  it('starts anvil, deploys everything and writes the deployment file', async () => {
    const out = join(dir, 'deployment.json');
    const r = await chainUp({ out });
    anvil = r.anvil;
    expect(anvil?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(r.file).toBe(out);
    const file = JSON.parse(readFileSync(out, 'utf8')) as Deployment;
    expect(file).toEqual(r.deployment);
    expect(file.chainId).toBe(31337);
    expect(Object.keys(file.contracts).sort()).toEqual(
      ['attestationLog', 'market', 'registry', 'settlement', 'token', 'witnessPool'].sort(),
    );

    const provider = new JsonRpcProvider(file.rpcUrl, undefined, {
      staticNetwork: true,
      cacheTimeout: -1,
      pollingInterval: 50,
    });
    try {
      for (const address of Object.values(file.contracts))
        expect((await provider.getCode(address)).length).toBeGreaterThan(2);
      // the whole supply was minted once, to the deployer (anvil's first account)
      const token = connectToken(file.contracts.token, provider);
      expect(await token.totalSupply()).toBe(DEFAULT_PARAMS.initialSupply);
      expect(await token.balanceOf('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')).toBe(
        DEFAULT_PARAMS.initialSupply,
      );
      // the set-once wiring: who may lock, slash and release collateral, and who reports rounds
      const registry = connectRegistry(file.contracts.registry, provider);
      expect([await registry.market(), await registry.settlement(), await registry.pool()]).toEqual([
        file.contracts.market,
        file.contracts.settlement,
        file.contracts.witnessPool,
      ]);
      expect(await connectSettlement(file.contracts.settlement, provider).market()).toBe(
        file.contracts.market,
      );
      expect(await connectWitnessPool(file.contracts.witnessPool, provider).market()).toBe(
        file.contracts.market,
      );
      const market = connectMarket(file.contracts.market, provider);
      expect(await market.levelCount()).toBe(3n);
      expect((await market.params()).minEpochLength).toBe(DEFAULT_PARAMS.minEpochLength);
    } finally {
      provider.destroy();
    }
  });

  it('with --rpc deploys to the given endpoint and returns (text, then one JSON object with --json)', async () => {
    const out = join(dir, 'rpc.json');
    const t = await runCli('chain', 'up', '--rpc', anvil!.url, '--out', out);
    expect(t.code, t.err).toBe(0);
    const file = JSON.parse(readFileSync(out, 'utf8')) as Deployment;
    expect(file.rpcUrl).toBe(anvil!.url);
    expect(t.out).toContain(`deployed to ${anvil!.url} (chain id 31337)`);
    expect(t.out).toContain(file.contracts.market);
    expect(t.out).toContain(`deployment written to ${out}`);
    const j = await runCli('chain', 'up', '--rpc', anvil!.url, '--out', out, '--json');
    expect(j.code, j.err).toBe(0);
    const o = onlyJson(j.out);
    expect(o).toEqual({
      ok: true,
      deployment: JSON.parse(readFileSync(out, 'utf8')),
      file: out,
      params: 'default',
      anvil: null,
    });
  });

  it('deploys with the key in --key <file> (the token treasury is that account)', async () => {
    const keyFile = join(dir, 'deployer.key');
    // anvil's second development account, funded at genesis.
    writeFileSync(keyFile, '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d\n', {
      mode: 0o600,
    });
    const out = join(dir, 'key.json');
    const r = await runCli('chain', 'up', '--rpc', anvil!.url, '--out', out, '--key', keyFile, '--json');
    expect(r.code, r.out + r.err).toBe(0);
    const { deployment } = onlyJson<{ deployment: Deployment }>(r.out);
    const provider = new JsonRpcProvider(anvil!.url, undefined, { staticNetwork: true });
    try {
      const token = connectToken(deployment.contracts.token, provider);
      expect(await token.balanceOf('0x70997970C51812dc3A010C7d01b50e0d17dc79C8')).toBeGreaterThan(0n);
    } finally {
      provider.destroy();
    }
  });
});

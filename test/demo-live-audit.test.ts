import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type DemoLive, runDemo } from '../cli/demo/network.js';
import { onlyJson, runCli } from './cli-run.js';

/*
 * What the user does: run the network, keep it up, audit the live log and chain with the
 * command the demo prints (quorum policy, chain checks), see a clean report; flip one byte of a tile
 * and see exactly what broke; stop the network.
 */

describe('the demo kept running, audited live', () => {
  let dir: string;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a clean audit of the live log and chain, then the tampered tile named', {
    timeout: 180_000,
  }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'defaas-live-'));
    let stop!: () => void;
    const stopped = new Promise<void>((r) => {
      stop = r;
    });
    let live!: (l: DemoLive) => void;
    const running = new Promise<DemoLive>((r) => {
      live = r;
    });
    const demo = runDemo({ calls: 20, logDir: join(dir, 'log'), keepRunning: stopped, onRunning: live });
    const l = await Promise.race([
      running,
      demo.then(() => Promise.reject(new Error('the demo ended early'))),
    ]);
    try {
      const clean = await runCli(...l.auditArgs, '--json');
      expect(clean.code, clean.out).toBe(0);
      const r = onlyJson<{
        clean: boolean;
        cosigners: string[];
        chain: { executors: { total: number; logged: number }; verdicts: { total: number; logged: number } };
      }>(clean.out);
      expect(r.clean).toBe(true);
      expect(r.cosigners).toHaveLength(2);
      expect(r.chain.executors).toEqual({ total: 1, logged: 1 });
      expect(r.chain.verdicts.logged).toBe(r.chain.verdicts.total);
      // One byte of the level-0 tile.
      const partial = join(dir, 'log', 'tile', '0', '000.p');
      const [width] = await readdir(partial);
      const tile = join(partial, width!);
      const bytes = await readFile(tile);
      bytes[5] = bytes[5]! ^ 1;
      await writeFile(tile, bytes);
      const broken = await runCli(...l.auditArgs, '--json');
      expect(broken.code).toBe(1);
      const f = onlyJson<{ findings: { code: string; path?: string }[] }>(broken.out).findings;
      expect(f[0]).toMatchObject({ code: 'LOG_TILE_MISMATCH' });
    } finally {
      stop();
    }
    const summary = await demo;
    expect(() => process.kill(summary.chain.anvilPid, 0)).toThrow();
  });
});

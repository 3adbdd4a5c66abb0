import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Chain, startChain } from '../contracts/test/chain-fixture.js';
import { TxSender } from '../verifier/agent/tx-sender.js';
import { startAnchoring } from '../verifier/log/anchor.js';
import { ed25519Signer, ed25519Verifier, generateEd25519Key } from '../verifier/log/note.js';
import { LogStore } from '../verifier/log/store.js';

const ORIGIN = 'anchor.example.test';
const key = generateEd25519Key(ORIGIN, new Uint8Array(32).fill(5));

describe('anchoring checkpoints on AttestationLog (anvil)', () => {
  let ch: Chain;
  let dir: string;
  let store: LogStore;

  beforeAll(async () => {
    ch = await startChain({ providers: 0, witnesses: 0 });
    dir = await mkdtemp(join(tmpdir(), 'defaas-anchor-'));
    store = await LogStore.open({
      dir,
      origin: ORIGIN,
      signer: ed25519Signer(key.signerKey),
      verifier: ed25519Verifier(key.verifierKey),
      batchDelayMs: 1,
    });
  }, 120_000);
  afterAll(async () => {
    await store?.close();
    await ch?.anvil.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('anchors a grown tree once, skips an unchanged one, and stops on a fork', async () => {
    const log = ch.c.attestationLog.connect(ch.deployer.signer);
    const sender = new TxSender({ provider: ch.provider, baseDelayMs: 10 });
    const events: Record<string, unknown>[] = [];
    const a = startAnchoring({
      contract: log,
      operator: ch.deployer.address,
      sender,
      checkpoint: () => store.checkpoint,
      intervalMs: 3_600_000,
      log: (e) => events.push(e),
    });
    expect(await a.anchorNow()).toEqual({ status: 'up-to-date', size: 0 });
    await Promise.all([1, 2, 3].map((i) => store.add(new TextEncoder().encode(`e${i}`))));
    const r = await a.anchorNow();
    expect(r).toMatchObject({ status: 'anchored', size: 3 });
    const on = await log.latestOf(ch.deployer.address);
    expect(on.treeSize).toBe(3n);
    expect(on.root).toBe(`0x${Buffer.from(store.checkpoint.root).toString('hex')}`);
    expect(await a.anchorNow()).toEqual({ status: 'up-to-date', size: 3 });

    // Someone with the operator key anchors a different root for size 4 (a second view of the log).
    await (await log.anchor(4, `0x${'11'.repeat(32)}`, '0x')).wait();
    await store.add(new TextEncoder().encode('e4'));
    const fresh = startAnchoring({
      contract: log,
      operator: ch.deployer.address,
      sender,
      checkpoint: () => store.checkpoint,
      intervalMs: 3_600_000,
      log: (e) => events.push(e),
    });
    const f = await fresh.anchorNow();
    expect(f).toMatchObject({ status: 'fork', size: 4, anchoredRoot: `0x${'11'.repeat(32)}` });
    expect(fresh.forked).toBe(true);
    // The running anchorer, which last anchored size 3, sees the other root when its tree reaches 4.
    expect(await a.anchorNow()).toMatchObject({ status: 'fork', size: 4 });
    expect(events.some((e) => e.event === 'fork')).toBe(true);
    await a.stop();
    await fresh.stop();
  }, 60_000);
});

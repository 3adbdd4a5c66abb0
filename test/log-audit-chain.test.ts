import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Chain, startChain } from '../contracts/test/chain-fixture.js';
import { auditLog } from '../verifier/log/audit.js';
import { auditChain } from '../verifier/log/audit-chain.js';
import { signCheckpoint } from '../verifier/log/checkpoint.js';
import { leafHash } from '../verifier/log/hash.js';
import { rootFromLeafHashes } from '../verifier/log/merkle.js';
import { ed25519Signer, ed25519Verifier, generateEd25519Key } from '../verifier/log/note.js';
import { logDirReader } from '../verifier/log/reader.js';
import { LogStore } from '../verifier/log/store.js';

/*
 * The auditor against a real chain (anvil): anchors of this log must be prefixes of the tree it
 * serves, and what the chain knows (executors, leases, revealed verdicts) must have its evidence in
 * the log. The log's key signs a second tree of an anchored size (a log that showed two views), and
 * a larger tree than it serves; another log's anchors are left alone.
 */

const ORIGIN = 'chain.example.test/log';
const key = generateEd25519Key(ORIGIN, new Uint8Array(32).fill(31));
const signer = ed25519Signer(key.signerKey);
const logKeys = [ed25519Verifier(key.verifierKey)];
const entry = (i: number) => new TextEncoder().encode(`entry ${i}`);

describe('audit of a log against the chain (anvil)', () => {
  let ch: Chain;
  let dir: string;
  let store: LogStore;

  beforeAll(async () => {
    ch = await startChain({ providers: 1, witnesses: 0 });
    dir = await mkdtemp(join(tmpdir(), 'defaas-auditchain-'));
    store = await LogStore.open({ dir, origin: ORIGIN, signer, verifier: logKeys[0]!, batchDelayMs: 1 });
    await Promise.all([0, 1, 2, 3].map((i) => store.add(entry(i))));
  }, 120_000);
  afterAll(async () => {
    await store?.close();
    await ch?.anvil.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function audit() {
    const report = await auditLog({ read: logDirReader(dir), origin: ORIGIN, logKeys, skipEvidence: true });
    return auditChain({
      contracts: ch.c,
      origin: ORIGIN,
      logKeys,
      size: report.checkpoint!.size,
      hashes: report.hashes!,
      entries: report.logged,
    });
  }

  const anchor = async (size: number, root: Uint8Array, note: string, by = ch.deployer.signer) =>
    (await ch.c.attestationLog.connect(by).anchor(size, root, new TextEncoder().encode(note))).wait();

  it('a true anchor is checked; an executor whose evidence the log lacks is a finding', async () => {
    await anchor(store.checkpoint.size, store.checkpoint.root, store.checkpoint.text);
    // Another log's anchor (other origin and key) is counted and left alone.
    const other = generateEd25519Key('other.example.test/log', new Uint8Array(32).fill(32));
    const otherNote = signCheckpoint(
      { origin: 'other.example.test/log', size: 9, root: new Uint8Array(32).fill(9), extensions: [] },
      [ed25519Signer(other.signerKey)],
    );
    await anchor(9, new Uint8Array(32).fill(9), otherNote);
    const r = await audit();
    expect(r.anchors).toEqual({ ours: 1, others: 1, checked: 1 });
    expect(r.findings.map((f) => f.code)).toEqual(['LOG_NOT_LOGGED']);
    expect(r.findings[0]!.path).toBe('executor/1');
    expect(r.executors).toEqual({ total: 1, logged: 0 });
  });

  it('an anchor the log signed for another tree of a size it serves, and one beyond it, are LOG_ANCHOR_MISMATCH', async () => {
    // The log's key signs a different tree of size 3 (entry 2 replaced): a second view of its past.
    const forkRoot = rootFromLeafHashes([0, 1, 99].map((i) => leafHash(entry(i))));
    const fork = signCheckpoint({ origin: ORIGIN, size: 3, root: forkRoot, extensions: [] }, [signer]);
    const second = new Wallet(Wallet.createRandom().privateKey, ch.provider);
    await (await ch.deployer.signer.sendTransaction({ to: second.address, value: 10n ** 18n })).wait();
    await (await ch.c.attestationLog.connect(ch.deployer.signer).setOperator(second.address, true)).wait();
    await anchor(3, forkRoot, fork, second as never);
    // And a tree larger than the log now serves.
    const ahead = signCheckpoint(
      { origin: ORIGIN, size: 50, root: new Uint8Array(32).fill(5), extensions: [] },
      [signer],
    );
    await anchor(50, new Uint8Array(32).fill(5), ahead, second as never);
    const r = await audit();
    const anchors = r.findings.filter((f) => f.code === 'LOG_ANCHOR_MISMATCH');
    expect(anchors.map((f) => f.message)).toEqual([
      expect.stringMatching(/anchor 2 \(size 3\) is not a prefix/),
      expect.stringMatching(/anchor 3 holds 50 entries; the log now serves 4/),
    ]);
    expect(r.anchors).toEqual({ ours: 3, others: 1, checked: 2 });
  });
});

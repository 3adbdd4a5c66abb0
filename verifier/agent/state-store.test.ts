import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAgentError } from './errors.js';
import { type RoundRecord, readState, StateStore } from './state-store.js';

const ID = {
  witness: '0x1111111111111111111111111111111111111111',
  chainId: 31337n,
  pool: '0x2222222222222222222222222222222222222222',
};
const H = `0x${'ab'.repeat(32)}`;

function round(id: string, over: Partial<RoundRecord> = {}): RoundRecord {
  return {
    v: 1,
    roundId: id,
    leaseId: '1',
    epoch: 0,
    phase: 'sealed',
    drawnBlock: 10,
    epochEnd: 1000,
    commitDeadline: 1100,
    revealDeadline: 1200,
    sealed: { verdict: 'Ok', violationTime: '0', evidenceHash: H, salt: H, commitment: H },
    failures: [],
    ...over,
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'defaas-agent-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('StateStore', () => {
  it('keeps a sealed round across a reopen (what a restart between commit and reveal needs)', async () => {
    const s = await StateStore.open(dir, ID);
    await s.saveRound(round('4294967297'));
    s.agent.cursor = 42;
    await s.saveAgent();
    await s.close();
    const t = await StateStore.open(dir, ID);
    expect(t.agent.cursor).toBe(42);
    expect(t.rounds.get('4294967297')?.sealed?.salt).toBe(H);
    await t.close();
  });

  it('ignores and removes a torn temporary file', async () => {
    const s = await StateStore.open(dir, ID);
    await s.saveRound(round('7'));
    await s.close();
    // A crash mid-write leaves a temp file with half a JSON object; the real file is intact.
    await writeFile(join(dir, 'rounds', '7.json.tmp-123-abcdef'), '{"v":1,"roundId":"7","pha');
    await writeFile(join(dir, 'agent.json.tmp-9-00'), '');
    const t = await StateStore.open(dir, ID);
    expect(t.rounds.get('7')?.phase).toBe('sealed');
    expect((await readdir(join(dir, 'rounds'))).sort()).toEqual(['7.json']);
    await t.close();
  });

  it('fails closed on a corrupt round file (no silent reset)', async () => {
    const s = await StateStore.open(dir, ID);
    await s.saveRound(round('7'));
    await s.close();
    await writeFile(join(dir, 'rounds', '7.json'), '{"v":1,"roundId":"7"');
    const e = await StateStore.open(dir, ID).catch((x: unknown) => x);
    expect(isAgentError(e, 'STATE_CORRUPT')).toBe(true);
    expect((e as Error).message).toContain('7.json');
    // the corrupt file is still there for a person to look at, and the directory is not held
    expect(await readFile(join(dir, 'rounds', '7.json'), 'utf8')).toBe('{"v":1,"roundId":"7"');
    expect(isAgentError(await readState(dir).catch((x: unknown) => x), 'STATE_CORRUPT')).toBe(true);
  });

  it('fails closed on a sealed round without its salt, a wrong version, a corrupt agent.json', async () => {
    const s = await StateStore.open(dir, ID);
    await s.close();
    const p = join(dir, 'rounds', '8.json');
    const { sealed: _, ...unsealed } = round('8');
    for (const bad of [
      JSON.stringify(unsealed),
      JSON.stringify({ ...round('8'), v: 2 }),
      JSON.stringify({ ...round('8'), sealed: { ...round('8').sealed, salt: 'x' } }),
      JSON.stringify({ ...round('8'), phase: 'weird' }),
    ]) {
      await writeFile(p, bad);
      expect(isAgentError(await StateStore.open(dir, ID).catch((x: unknown) => x), 'STATE_CORRUPT')).toBe(
        true,
      );
    }
    await rm(p);
    await writeFile(join(dir, 'agent.json'), 'not json');
    expect(isAgentError(await StateStore.open(dir, ID).catch((x: unknown) => x), 'STATE_CORRUPT')).toBe(true);
  });

  it("refuses another witness's, chain's or pool's directory, and a second agent on it", async () => {
    const s = await StateStore.open(dir, ID);
    expect(isAgentError(await StateStore.open(dir, ID).catch((x: unknown) => x), 'STATE_LOCKED')).toBe(true);
    await s.close();
    for (const other of [
      { ...ID, witness: '0x3333333333333333333333333333333333333333' },
      { ...ID, chainId: 1n },
      { ...ID, pool: '0x4444444444444444444444444444444444444444' },
    ])
      expect(isAgentError(await StateStore.open(dir, other).catch((x: unknown) => x), 'STATE_MISMATCH')).toBe(
        true,
      );
  });

  it('a directory abandoned by a crashed agent of this process can be taken again', async () => {
    const s = await StateStore.open(dir, ID);
    s.abandon();
    const t = await StateStore.open(dir, ID);
    await t.close();
  });
});

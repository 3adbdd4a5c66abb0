import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHandshake } from '../sdk/session/handshake.js';
import { type Harness, openSessionRaw, rawClient, startExecutor } from './e2e-harness.js';

// Handshake quotas over real gRPC on 127.0.0.1: a per-peer rate checked before any state is kept,
// a per-peer share of the session table, and early expiry of sessions that are never used. All
// clients here share one peer address (127.0.0.1), which is the case the quotas are about.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function errorCode(e: unknown): string {
  const details = (e as { metadata?: { get(k: string): unknown[] } }).metadata?.get('defaas-error-bin');
  const raw = details?.[0];
  // The ErrorDetail trailer: field 1 (code) is the first length-delimited string.
  if (raw instanceof Uint8Array && raw[0] === 0x0a)
    return new TextDecoder().decode(raw.subarray(2, 2 + raw[1]!));
  return String(e);
}

async function tryOpen(client: ReturnType<typeof rawClient>): Promise<string> {
  return openSessionRaw(client, startHandshake('normal')).then(
    () => 'OPENED',
    (e: unknown) => errorCode(e),
  );
}

describe('handshake quotas', () => {
  let h: Harness;
  let client: ReturnType<typeof rawClient>;
  beforeAll(async () => {
    h = await startExecutor({ handshakesPerSecond: 5, maxSessionsPerPeer: 3, unusedSessionTtlMs: 300 });
    client = rawClient(h.endpoint);
  });
  afterAll(async () => {
    client.close();
    await h.stop();
  });

  it('gives one peer a share of the table and a rate, refusing the rest without keeping anything', async () => {
    const first = [];
    for (let i = 0; i < 4; i++) first.push(await tryOpen(client));
    expect(first).toEqual(['OPENED', 'OPENED', 'OPENED', 'SESSION_LIMIT']);
    expect(h.executor.openSessions).toBe(3);
    // The burst (2 × 5) is spent within this flood; everything after it is refused by the rate.
    const flood = await Promise.all(Array.from({ length: 200 }, () => tryOpen(client)));
    expect(new Set(flood)).toEqual(new Set(['SESSION_LIMIT', 'HANDSHAKE_RATE_LIMITED']));
    expect(flood.filter((c) => c === 'HANDSHAKE_RATE_LIMITED').length).toBeGreaterThanOrEqual(190);
    expect(h.executor.openSessions).toBe(3);
    // Unused sessions expire after 300 ms, and the rate refills: the peer can open sessions again.
    await new Promise((r) => setTimeout(r, 600));
    expect(await tryOpen(client)).toBe('OPENED');
    expect(h.executor.openSessions).toBe(1);
  });

  it('a bounded flood of refused handshakes leaves the heap where it was', async () => {
    const rounds = 5_000;
    const settle = async () => {
      await new Promise((r) => setTimeout(r, 50));
      gc();
      return process.memoryUsage().heapUsed;
    };
    // Warm up the paths (code, gRPC buffers) before the baseline.
    await Promise.all(Array.from({ length: 500 }, () => tryOpen(client)));
    const before = await settle();
    let opened = 0;
    for (let i = 0; i < rounds; i += 500) {
      const codes = await Promise.all(Array.from({ length: 500 }, () => tryOpen(client)));
      opened += codes.filter((c) => c === 'OPENED').length;
    }
    // Only what the rate refills while the flood runs (5/s) gets through.
    expect(opened).toBeLessThan(rounds / 100);
    const after = await settle();
    // A refused handshake keeps nothing: no nonce, no session, no per-peer entry beyond its bucket.
    expect(after - before).toBeLessThan(2 * 1024 * 1024);
    expect(h.executor.openSessions).toBeLessThanOrEqual(3);
  });
});

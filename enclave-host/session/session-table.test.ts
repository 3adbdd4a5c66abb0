import { describe, expect, it } from 'vitest';
import { isSessionError, type SessionErrorCode } from '../../protocol/errors.js';
import type { LeaseTermsFields } from '../../protocol/transcript.js';
import { ServerSession } from './server-session.js';
import { SessionTable } from './session-table.js';

const KEYS = { c2s: new Uint8Array(32), s2c: new Uint8Array(32) };
const TERMS: LeaseTermsFields = {
  leaseId: 1n,
  chainId: 31337n,
  verifyingContract: '0x0000000000000000000000000000000000000000',
  pricePerCall: 0n,
  batchMaxCalls: 64,
  batchMaxMillis: 100,
  limits: {
    memoryBytes: 1n << 22n,
    wallTimeMs: 1_000,
    maxInputBytes: 1n << 16n,
    maxOutputBytes: 1n << 16n,
    maxStderrBytes: 1n << 12n,
    maxMessageBytes: 1n << 20n,
  },
};
let n = 0;
function session(expiresAt: number): ServerSession {
  const id = new Uint8Array(16);
  new DataView(id.buffer).setUint32(0, ++n);
  return new ServerSession(id, KEYS, expiresAt, new Uint8Array(32), 64, TERMS);
}
function nonce(i: number): Uint8Array {
  const b = new Uint8Array(32);
  new DataView(b.buffer).setUint32(0, i);
  return b;
}
const BINDINGS = { maxClientsPerSession: 16, maxClientsPerPeer: 256 };
function refusal(f: () => unknown): { code: SessionErrorCode; info: unknown } | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (isSessionError(e)) return { code: e.code, info: e.info };
    throw e;
  }
}
function codeOf(f: () => unknown): SessionErrorCode | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (isSessionError(e)) return e.code;
    throw e;
  }
}

describe('SessionTable', () => {
  it('caps the sessions of one peer without touching the others', () => {
    const t = new SessionTable(
      { maxSessions: 10, maxSessionsPerPeer: 2, unusedTtlMs: 1_000, ...BINDINGS },
      () => 0,
    );
    t.add(session(5_000), 'a', nonce(1));
    t.add(session(5_000), 'a', nonce(2));
    expect(codeOf(() => t.reserve('a'))).toBe('SESSION_LIMIT');
    expect(codeOf(() => t.add(session(5_000), 'a', nonce(3)))).toBe('SESSION_LIMIT');
    t.add(session(5_000), 'b', nonce(4));
    expect(t.size).toBe(3);
  });

  it('expires a session that carried no authenticated frame early, a used one at its lifetime', () => {
    let now = 0;
    const t = new SessionTable(
      { maxSessions: 10, maxSessionsPerPeer: 10, unusedTtlMs: 1_000, ...BINDINGS },
      () => now,
    );
    const unused = session(5_000);
    const used = session(5_000);
    t.add(unused, 'a', nonce(1));
    t.add(used, 'a', nonce(2));
    used.used = true;
    now = 1_000;
    expect(codeOf(() => t.get(unused.id))).toBe('SESSION_EXPIRED');
    expect(t.get(used.id)).toBe(used);
    now = 5_000;
    expect(codeOf(() => t.get(used.id))).toBe('SESSION_EXPIRED');
    expect(t.size).toBe(0);
  });

  it('refuses a replayed ClientHello while its session lives, and forgets it with the session', () => {
    let now = 0;
    const t = new SessionTable(
      { maxSessions: 10, maxSessionsPerPeer: 10, unusedTtlMs: 1_000, ...BINDINGS },
      () => now,
    );
    t.add(session(5_000), 'a', nonce(7));
    expect(codeOf(() => t.checkHello(nonce(7)))).toBe('HANDSHAKE_REPLAYED');
    now = 1_000; // the unused session is gone, and its nonce with it
    expect(codeOf(() => t.checkHello(nonce(7)))).toBeUndefined();
    // The per-peer count went with it too.
    expect(codeOf(() => t.reserve('a'))).toBeUndefined();
  });

  it('frees a full table as sessions expire', () => {
    let now = 0;
    const t = new SessionTable(
      { maxSessions: 2, maxSessionsPerPeer: 2, unusedTtlMs: 100, ...BINDINGS },
      () => now,
    );
    t.add(session(5_000), 'a', nonce(1));
    t.add(session(5_000), 'b', nonce(2));
    expect(codeOf(() => t.reserve('c'))).toBe('SESSION_LIMIT');
    now = 100;
    t.add(session(5_000), 'c', nonce(3));
    expect(t.size).toBe(1);
  });

  it('caps the wallets of one session, and of one peer across its sessions', () => {
    let now = 0;
    const t = new SessionTable(
      {
        maxSessions: 10,
        maxSessionsPerPeer: 10,
        unusedTtlMs: 1_000,
        maxClientsPerSession: 2,
        maxClientsPerPeer: 3,
      },
      () => now,
    );
    const [a1, a2, b] = [session(5_000), session(5_000), session(5_000)];
    t.add(a1, 'a', nonce(1));
    t.add(a2, 'a', nonce(2));
    t.add(b, 'b', nonce(3));
    t.bindClient(a1, '1/w1');
    t.bindClient(a1, '1/w2');
    t.bindClient(a1, '1/w2'); // already bound: free
    const perSession = refusal(() => t.bindClient(a1, '1/w3'));
    expect(perSession).toEqual({
      code: 'CLIENT_BINDING_LIMIT',
      info: { limit: 'maxClientsPerSession', max: 2, count: 2 },
    });
    // The peer's other session shares the peer's quota of distinct wallets.
    t.bindClient(a2, '1/w3');
    expect(refusal(() => t.checkBinding(a2, '1/w4'))).toEqual({
      code: 'CLIENT_BINDING_LIMIT',
      info: { limit: 'maxClientsPerPeer', max: 3, count: 3 },
    });
    // A wallet another session of the peer is bound to takes no more of it.
    t.bindClient(a2, '1/w1');
    // Another peer has a quota of its own.
    t.bindClient(b, '1/w4');
    t.bindClient(b, '1/w5');
    expect(a1.boundClients.size + a2.boundClients.size + b.boundClients.size).toBe(6);
    // The bindings go with their session: a1 used, a2 unused and expired, w2 is free again.
    a1.used = true;
    now = 1_000;
    expect(codeOf(() => t.get(a2.id))).toBe('SESSION_EXPIRED');
    const a3 = session(5_000);
    t.add(a3, 'a', nonce(4));
    t.bindClient(a3, '1/w6');
    expect(refusal(() => t.bindClient(a3, '1/w7'))?.info).toEqual({
      limit: 'maxClientsPerPeer',
      max: 3,
      count: 3,
    });
  });

  it('a session no longer in the table binds within its own quota only, and nothing is counted for its peer', () => {
    const t = new SessionTable(
      {
        maxSessions: 10,
        maxSessionsPerPeer: 10,
        unusedTtlMs: 1_000,
        maxClientsPerSession: 4,
        maxClientsPerPeer: 1,
      },
      () => 0,
    );
    const gone = session(5_000);
    t.bindClient(gone, '1/w1');
    t.bindClient(gone, '1/w2');
    const open = session(5_000);
    t.add(open, 'a', nonce(1));
    t.bindClient(open, '1/w3');
    expect(refusal(() => t.bindClient(open, '1/w4'))?.code).toBe('CLIENT_BINDING_LIMIT');
  });
});

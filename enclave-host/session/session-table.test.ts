import { describe, expect, it } from 'vitest';
import { isSessionError, type SessionErrorCode } from '../../protocol/errors.js';
import { ServerSession } from './server-session.js';
import { SessionTable } from './session-table.js';

const KEYS = { c2s: new Uint8Array(32), s2c: new Uint8Array(32) };
let n = 0;
function session(expiresAt: number): ServerSession {
  const id = new Uint8Array(16);
  new DataView(id.buffer).setUint32(0, ++n);
  return new ServerSession(id, KEYS, expiresAt, new Uint8Array(32), 64);
}
function nonce(i: number): Uint8Array {
  const b = new Uint8Array(32);
  new DataView(b.buffer).setUint32(0, i);
  return b;
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
    const t = new SessionTable({ maxSessions: 10, maxSessionsPerPeer: 2, unusedTtlMs: 1_000 }, () => 0);
    t.add(session(5_000), 'a', nonce(1));
    t.add(session(5_000), 'a', nonce(2));
    expect(codeOf(() => t.reserve('a'))).toBe('SESSION_LIMIT');
    expect(codeOf(() => t.add(session(5_000), 'a', nonce(3)))).toBe('SESSION_LIMIT');
    t.add(session(5_000), 'b', nonce(4));
    expect(t.size).toBe(3);
  });

  it('expires a session that carried no authenticated frame early, a used one at its lifetime', () => {
    let now = 0;
    const t = new SessionTable({ maxSessions: 10, maxSessionsPerPeer: 10, unusedTtlMs: 1_000 }, () => now);
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
    const t = new SessionTable({ maxSessions: 10, maxSessionsPerPeer: 10, unusedTtlMs: 1_000 }, () => now);
    t.add(session(5_000), 'a', nonce(7));
    expect(codeOf(() => t.checkHello(nonce(7)))).toBe('HANDSHAKE_REPLAYED');
    now = 1_000; // the unused session is gone, and its nonce with it
    expect(codeOf(() => t.checkHello(nonce(7)))).toBeUndefined();
    // The per-peer count went with it too.
    expect(codeOf(() => t.reserve('a'))).toBeUndefined();
  });

  it('frees a full table as sessions expire', () => {
    let now = 0;
    const t = new SessionTable({ maxSessions: 2, maxSessionsPerPeer: 2, unusedTtlMs: 100 }, () => now);
    t.add(session(5_000), 'a', nonce(1));
    t.add(session(5_000), 'b', nonce(2));
    expect(codeOf(() => t.reserve('c'))).toBe('SESSION_LIMIT');
    now = 100;
    t.add(session(5_000), 'c', nonce(3));
    expect(t.size).toBe(1);
  });
});

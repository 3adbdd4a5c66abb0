import { toHex } from '../../attestation/bytes.js';
import { sessionFail } from '../../attestation/session/errors.js';
import type { ServerSession } from './server-session.js';

/**
 * Open sessions, capped, with expiry, plus the ClientHello nonces seen while a session opened with
 * them could still be alive (a replayed ClientHello is refused even though it could not be used).
 */
export class SessionTable {
  private readonly sessions = new Map<string, ServerSession>();
  private readonly helloNonces = new Map<string, number>();
  /** No entry expires before this time: sweeping earlier would find nothing. */
  private nextExpiry = Number.POSITIVE_INFINITY;

  constructor(
    private readonly maxSessions: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a ClientHello nonce; throws HANDSHAKE_REPLAYED when it was seen before. */
  rememberHello(nonce: Uint8Array, until: number): void {
    this.sweep();
    const k = toHex(nonce);
    if (this.helloNonces.has(k)) sessionFail('HANDSHAKE_REPLAYED', 'this ClientHello was already used');
    this.helloNonces.set(k, until);
    if (until < this.nextExpiry) this.nextExpiry = until;
  }

  /** Throws SESSION_LIMIT when full (after dropping expired sessions). */
  reserve(): void {
    if (this.sessions.size >= this.maxSessions) this.sweep();
    if (this.sessions.size >= this.maxSessions)
      sessionFail('SESSION_LIMIT', `the executor has ${this.maxSessions} open sessions`, {
        maxSessions: this.maxSessions,
      });
  }

  add(s: ServerSession): void {
    this.reserve();
    this.sessions.set(toHex(s.id), s);
    if (s.expiresAt < this.nextExpiry) this.nextExpiry = s.expiresAt;
  }

  get(id: Uint8Array): ServerSession {
    const k = toHex(id);
    const s = this.sessions.get(k);
    if (!s)
      return sessionFail('SESSION_UNKNOWN', 'no such session (expired, closed, or the executor restarted)');
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(k);
      sessionFail('SESSION_EXPIRED', 'the session expired; open a new one');
    }
    return s;
  }

  get size(): number {
    return this.sessions.size;
  }

  clear(): void {
    this.sessions.clear();
  }

  /** Drops expired sessions and nonces; a pass over the tables only once something can have expired. */
  private sweep(): void {
    const t = this.now();
    if (t < this.nextExpiry) return;
    let next = Number.POSITIVE_INFINITY;
    for (const [k, s] of this.sessions)
      if (s.expiresAt <= t) this.sessions.delete(k);
      else if (s.expiresAt < next) next = s.expiresAt;
    for (const [k, until] of this.helloNonces)
      if (until <= t) this.helloNonces.delete(k);
      else if (until < next) next = until;
    this.nextExpiry = next;
  }
}

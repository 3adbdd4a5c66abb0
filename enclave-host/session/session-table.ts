import { toHex } from '../../attestation/bytes.js';
import { sessionFail } from '../../protocol/errors.js';
import type { ServerSession } from './server-session.js';

export interface SessionTableLimits {
  readonly maxSessions: number;
  /** Open sessions of one peer (network address) at most. */
  readonly maxSessionsPerPeer: number;
  /**
   * A session that has not yet carried an authenticated frame expires this long after it opened:
   * handshakes that are never used do not hold a place for the whole session lifetime.
   */
  readonly unusedTtlMs: number;
  /** Wallets one session may be bound to at most (Sync with client_proof). */
  readonly maxClientsPerSession: number;
  /** Distinct wallets the open sessions of one peer may be bound to at most, all together. */
  readonly maxClientsPerPeer: number;
}

interface Entry {
  readonly session: ServerSession;
  readonly peer: string;
  readonly openedAt: number;
  readonly helloNonce: string;
}

/**
 * Open sessions, capped in total and per peer, with expiry, plus the ClientHello nonce of each open
 * session (a replayed ClientHello is refused while the session it opened is alive, although it could
 * not be used), and the wallets each session is bound to, capped per session and per peer (wallets
 * cost nothing to make, and each bound one may get books). Only a handshake that succeeded leaves
 * anything behind, and it goes with its session, its bindings with it.
 */
export class SessionTable {
  private readonly sessions = new Map<string, Entry>();
  private readonly perPeer = new Map<string, number>();
  /** Per peer: each wallet bound by its open sessions, with the number of them bound to it. */
  private readonly peerClients = new Map<string, Map<string, number>>();
  private readonly helloNonces = new Set<string>();
  /** No entry expires before this time: sweeping earlier would find nothing. */
  private nextExpiry = Number.POSITIVE_INFINITY;

  constructor(
    private readonly limits: SessionTableLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws HANDSHAKE_REPLAYED when this ClientHello nonce opened a session that may still be alive. */
  checkHello(nonce: Uint8Array): void {
    this.sweep();
    if (this.helloNonces.has(toHex(nonce)))
      sessionFail('HANDSHAKE_REPLAYED', 'this ClientHello was already used');
  }

  /** Throws SESSION_LIMIT when the table, or `peer`'s share of it, is full (after dropping expired sessions). */
  reserve(peer: string): void {
    this.sweep();
    const { maxSessions, maxSessionsPerPeer } = this.limits;
    if (this.sessions.size >= maxSessions)
      sessionFail('SESSION_LIMIT', `the executor has ${maxSessions} open sessions`, { maxSessions });
    if ((this.perPeer.get(peer) ?? 0) >= maxSessionsPerPeer)
      sessionFail('SESSION_LIMIT', `this peer has ${maxSessionsPerPeer} open sessions (the most allowed)`, {
        maxSessionsPerPeer,
      });
  }

  /** Adds an opened session: checks the limits and the nonce again (the handshake is asynchronous). */
  add(s: ServerSession, peer: string, helloNonce: Uint8Array): void {
    this.checkHello(helloNonce);
    this.reserve(peer);
    const t = this.now();
    const e: Entry = { session: s, peer, openedAt: t, helloNonce: toHex(helloNonce) };
    this.sessions.set(toHex(s.id), e);
    this.perPeer.set(peer, (this.perPeer.get(peer) ?? 0) + 1);
    this.helloNonces.add(e.helloNonce);
    this.nextExpiry = Math.min(this.nextExpiry, this.expiry(e));
  }

  /**
   * Throws CLIENT_BINDING_LIMIT when binding `s` to `client` (a `${lease}/${client}` key) would take
   * the session, or its peer's sessions together, over their quota of wallets. Binding a wallet
   * the session is already bound to is always allowed.
   */
  checkBinding(s: ServerSession, client: string): void {
    if (s.boundClients.has(client)) return;
    const { maxClientsPerSession, maxClientsPerPeer } = this.limits;
    if (s.boundClients.size >= maxClientsPerSession)
      sessionFail(
        'CLIENT_BINDING_LIMIT',
        `this session is bound to ${s.boundClients.size} wallets, the most allowed`,
        { limit: 'maxClientsPerSession', max: maxClientsPerSession, count: s.boundClients.size },
      );
    const e = this.entryOf(s);
    const peer = e && this.peerClients.get(e.peer);
    const count = peer?.size ?? 0;
    if (count >= maxClientsPerPeer && !peer?.has(client))
      sessionFail(
        'CLIENT_BINDING_LIMIT',
        `the sessions of this peer are bound to ${count} wallets, the most allowed`,
        { limit: 'maxClientsPerPeer', max: maxClientsPerPeer, count },
      );
  }

  /** Binds `s` to `client` (a `${lease}/${client}` key) after `checkBinding`. */
  bindClient(s: ServerSession, client: string): void {
    this.checkBinding(s, client);
    if (s.boundClients.has(client)) return;
    s.boundClients.add(client);
    // A session that left the table (expired while the request ran) goes with its bindings.
    const e = this.entryOf(s);
    if (!e) return;
    let peer = this.peerClients.get(e.peer);
    if (!peer) {
      peer = new Map();
      this.peerClients.set(e.peer, peer);
    }
    peer.set(client, (peer.get(client) ?? 0) + 1);
  }

  get(id: Uint8Array): ServerSession {
    const k = toHex(id);
    const e = this.sessions.get(k);
    if (!e)
      return sessionFail('SESSION_UNKNOWN', 'no such session (expired, closed, or the executor restarted)');
    if (this.expiry(e) <= this.now()) {
      this.remove(k, e);
      sessionFail('SESSION_EXPIRED', 'the session expired; open a new one');
    }
    return e.session;
  }

  get size(): number {
    return this.sessions.size;
  }

  clear(): void {
    this.sessions.clear();
    this.perPeer.clear();
    this.peerClients.clear();
    this.helloNonces.clear();
  }

  /** The entry of `s` while it is in the table. */
  private entryOf(s: ServerSession): Entry | undefined {
    const e = this.sessions.get(toHex(s.id));
    return e?.session === s ? e : undefined;
  }

  private expiry(e: Entry): number {
    return e.session.used
      ? e.session.expiresAt
      : Math.min(e.session.expiresAt, e.openedAt + this.limits.unusedTtlMs);
  }

  private remove(k: string, e: Entry): void {
    this.sessions.delete(k);
    this.helloNonces.delete(e.helloNonce);
    const n = (this.perPeer.get(e.peer) ?? 1) - 1;
    if (n > 0) this.perPeer.set(e.peer, n);
    else this.perPeer.delete(e.peer);
    const clients = this.peerClients.get(e.peer);
    if (!clients) return;
    for (const c of e.session.boundClients) {
      const left = (clients.get(c) ?? 1) - 1;
      if (left > 0) clients.set(c, left);
      else clients.delete(c);
    }
    if (clients.size === 0) this.peerClients.delete(e.peer);
  }

  /** Drops expired sessions; a pass over the table only once something can have expired. */
  private sweep(): void {
    const t = this.now();
    if (t < this.nextExpiry) return;
    let next = Number.POSITIVE_INFINITY;
    for (const [k, e] of this.sessions) {
      const until = this.expiry(e);
      if (until <= t) this.remove(k, e);
      else if (until < next) next = until;
    }
    this.nextExpiry = next;
  }
}

import { sessionFail } from '../../protocol/errors.js';

export interface HandshakeLimits {
  /** Handshakes one peer may start per second, sustained. */
  readonly perSecond: number;
  /** Handshakes one peer may start at once after being idle. */
  readonly burst: number;
  /** Peers tracked at most; beyond that a new peer is refused until idle peers are forgotten. */
  readonly maxPeers: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per peer (the network address a handshake comes from), consulted before a
 * handshake keeps any state: a refused handshake costs one map lookup. A bucket that has refilled
 * is the same as no bucket, so idle peers are forgotten when the map is full; the map never holds
 * more than `maxPeers` entries.
 */
export class HandshakeLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limits: HandshakeLimits,
    private readonly now: () => number = Date.now,
  ) {
    if (!(limits.perSecond > 0) || !(limits.burst >= 1) || !(limits.maxPeers >= 1))
      throw new RangeError('handshake limits must be positive (burst and maxPeers at least 1)');
  }

  /** Takes one token for `peer`; throws HANDSHAKE_RATE_LIMITED when it has none. */
  take(peer: string): void {
    const t = this.now();
    let b = this.buckets.get(peer);
    if (b === undefined) {
      if (this.buckets.size >= this.limits.maxPeers) this.forgetIdle(t);
      if (this.buckets.size >= this.limits.maxPeers)
        sessionFail(
          'HANDSHAKE_RATE_LIMITED',
          `too many peers are opening sessions (${this.limits.maxPeers})`,
          {
            maxPeers: this.limits.maxPeers,
          },
        );
      b = { tokens: this.limits.burst, at: t };
      this.buckets.set(peer, b);
    } else {
      this.refill(b, t);
    }
    if (b.tokens < 1)
      sessionFail(
        'HANDSHAKE_RATE_LIMITED',
        `at most ${this.limits.perSecond} handshakes per second (burst ${this.limits.burst}) from one peer`,
        { perSecond: this.limits.perSecond, burst: this.limits.burst },
      );
    b.tokens -= 1;
  }

  get peers(): number {
    return this.buckets.size;
  }

  private refill(b: Bucket, t: number): void {
    const elapsed = Math.max(0, t - b.at);
    b.tokens = Math.min(this.limits.burst, b.tokens + (elapsed * this.limits.perSecond) / 1000);
    b.at = t;
  }

  private forgetIdle(t: number): void {
    for (const [peer, b] of this.buckets) {
      this.refill(b, t);
      if (b.tokens >= this.limits.burst) this.buckets.delete(peer);
    }
  }
}

/** The address part of a grpc-js peer string ("ipv4:127.0.0.1:5000" → "127.0.0.1", "ipv6:[::1]:5000" → "[::1]"). */
export function peerAddress(peer: string): string {
  const rest = peer.replace(/^ipv[46]:/, '');
  if (rest.startsWith('[')) return rest.slice(0, rest.indexOf(']') + 1) || rest;
  return rest.replace(/:\d+$/, '');
}

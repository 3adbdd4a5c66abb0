import { describe, expect, it } from 'vitest';
import { isSessionError } from '../../protocol/errors.js';
import { HandshakeLimiter, peerAddress } from './handshake-limiter.js';

function refused(f: () => void): boolean {
  try {
    f();
    return false;
  } catch (e) {
    if (isSessionError(e, 'HANDSHAKE_RATE_LIMITED')) return true;
    throw e;
  }
}

describe('HandshakeLimiter', () => {
  it('allows a burst, then the sustained rate, per peer', () => {
    let t = 0;
    const l = new HandshakeLimiter({ perSecond: 10, burst: 3, maxPeers: 8 }, () => t);
    for (let i = 0; i < 3; i++) l.take('a');
    expect(refused(() => l.take('a'))).toBe(true);
    // Another peer is not affected.
    l.take('b');
    t += 100; // one token back at 10/s
    l.take('a');
    expect(refused(() => l.take('a'))).toBe(true);
    t += 10_000; // refilled, but never above the burst
    for (let i = 0; i < 3; i++) l.take('a');
    expect(refused(() => l.take('a'))).toBe(true);
  });

  it('tracks at most maxPeers, forgetting idle ones first', () => {
    let t = 0;
    const l = new HandshakeLimiter({ perSecond: 1, burst: 2, maxPeers: 2 }, () => t);
    l.take('a');
    l.take('b');
    expect(refused(() => l.take('c'))).toBe(true);
    expect(l.peers).toBe(2);
    t += 1_000; // a and b are full again: forgetting them loses nothing
    l.take('c');
    expect(l.peers).toBe(1);
  });

  it('names the limits in the error', () => {
    const l = new HandshakeLimiter({ perSecond: 5, burst: 1, maxPeers: 1 }, () => 0);
    l.take('a');
    expect(() => l.take('a')).toThrow(/at most 5 handshakes per second \(burst 1\)/);
  });

  it('reads the address out of grpc-js peer strings', () => {
    expect(peerAddress('ipv4:127.0.0.1:50123')).toBe('127.0.0.1');
    expect(peerAddress('ipv6:[::1]:50123')).toBe('[::1]');
    expect(peerAddress('unix:/tmp/x.sock')).toBe('unix:/tmp/x.sock');
  });
});

import { getBytes, hexlify, keccak256, solidityPackedKeccak256 } from 'ethers';
import { describe, expect, it } from 'vitest';
import { BALANCE_POLICIES, balanceSeed, choose, drawTwo } from './balance.js';
import { DefaasError } from './errors.js';

/*
 * The balancing rule against a second implementation (ethers' solidityPackedKeccak256), so that a
 * choice recomputed from docs/balancing.md with ordinary Ethereum tooling matches the SDK's.
 */

/** 32 bytes from a label, so the vectors are reproducible without hard-coding hashes. */
const b32 = (label: string) => keccak256(new TextEncoder().encode(label));

/** docs/balancing.md, recomputed with ethers only. */
function reference(blockHash: string, requestId: string, n: number) {
  const seed = solidityPackedKeccak256(['bytes32', 'bytes32'], [blockHash, requestId]);
  const h = (tag: number) => BigInt(solidityPackedKeccak256(['bytes32', 'uint8'], [seed, tag]));
  const first = Number(h(0) % BigInt(n));
  const second = n === 1 ? 0 : (first + 1 + Number(h(1) % BigInt(n - 1))) % n;
  const bit = Number(h(2) & 1n);
  return { seed, first, second, bit };
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof DefaasError ? e.code : `not a DefaasError: ${String(e)}`;
  }
  return undefined;
}

describe('balanceSeed / drawTwo / choose', () => {
  it('match an independent recomputation (ethers) for many block hashes, request ids and n', () => {
    let checked = 0;
    for (let b = 0; b < 8; b++) {
      for (let r = 0; r < 8; r++) {
        const blockHash = b32(`block ${b}`);
        const requestId = b32(`request ${b}/${r}`);
        const seed = balanceSeed(blockHash, requestId);
        for (const n of [1, 2, 3, 6, 8, 10, 257]) {
          const ref = reference(blockHash, requestId, n);
          expect(hexlify(seed)).toBe(ref.seed);
          expect(drawTwo(seed, n)).toEqual([ref.first, ref.second]);
          const loads = Array.from({ length: n }, (_, i) => (i * 7 + b + r) % 5);
          const none = choose('none', seed, loads);
          expect(none).toEqual({ seed: ref.seed, first: ref.first, second: ref.second, chosen: ref.first });
          const c2 = choose('choice-of-two', seed, loads);
          expect(c2.chosen).toBe(ref.bit === 0 ? ref.first : ref.second);
          const p2 = choose('power-of-two', seed, loads);
          const lower =
            loads[ref.second]! < loads[ref.first]! ? ref.second : ref.first; /* ties: first drawn */
          expect(p2.chosen).toBe(lower);
          checked++;
        }
      }
    }
    expect(checked).toBe(8 * 8 * 7);
  });

  it('accepts bytes as well as hex, with the same seed', () => {
    const bh = b32('bytes');
    const rid = b32('id');
    expect(hexlify(balanceSeed(getBytes(bh), getBytes(rid)))).toBe(hexlify(balanceSeed(bh, rid)));
  });

  it('draws two distinct candidates whenever there are at least two', () => {
    for (let i = 0; i < 2_000; i++) {
      const seed = balanceSeed(b32('d'), b32(`distinct ${i}`));
      const n = 2 + (i % 9);
      const [a, b] = drawTwo(seed, n);
      expect(a).not.toBe(b);
      expect(a).toBeGreaterThanOrEqual(0);
      expect(a).toBeLessThan(n);
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(n);
    }
    expect(drawTwo(balanceSeed(b32('x'), b32('y')), 1)).toEqual([0, 0]);
  });

  it('draws every ordered pair of 6 equally often (chi-square over 60,000 draws)', () => {
    const n = 6;
    const draws = 60_000;
    const counts = new Array<number>(n * n).fill(0);
    const chosenTwo = new Array<number>(n).fill(0);
    const blockHash = b32('uniformity');
    const rid = new Uint8Array(32);
    for (let i = 0; i < draws; i++) {
      new DataView(rid.buffer).setUint32(28, i);
      const seed = balanceSeed(blockHash, rid);
      const [a, b] = drawTwo(seed, n);
      counts[a * n + b]!++;
      chosenTwo[choose('choice-of-two', seed, new Array(n).fill(0)).chosen]!++;
    }
    const pairs = n * (n - 1);
    const expected = draws / pairs;
    let chi = 0;
    for (let a = 0; a < n; a++)
      for (let b = 0; b < n; b++) {
        if (a === b) expect(counts[a * n + b]).toBe(0);
        else chi += (counts[a * n + b]! - expected) ** 2 / expected;
      }
    // 29 degrees of freedom: P(chi² > 70) ≈ 3e-5 for a uniform draw. A draw with a bias of a few
    // percent on one pair, or a second candidate tied to the first, lands far above this.
    expect(chi).toBeLessThan(70);
    let chi1 = 0;
    for (const c of chosenTwo) chi1 += (c - draws / n) ** 2 / (draws / n);
    // 5 degrees of freedom: P(chi² > 25) ≈ 1.4e-4.
    expect(chi1).toBeLessThan(25);
  });

  it('power-of-two picks the less loaded of the two drawn, and the first drawn on a tie', () => {
    for (let i = 0; i < 200; i++) {
      const seed = balanceSeed(b32('p2'), b32(`load ${i}`));
      const [a, b] = drawTwo(seed, 6);
      const loads = [5, 5, 5, 5, 5, 5];
      expect(choose('power-of-two', seed, loads).chosen).toBe(a);
      loads[b] = 1;
      expect(choose('power-of-two', seed, loads).chosen).toBe(b);
      loads[a] = 0;
      expect(choose('power-of-two', seed, loads).chosen).toBe(a);
    }
  });

  it('lists exactly the three policies', () => {
    expect([...BALANCE_POLICIES]).toEqual(['power-of-two', 'choice-of-two', 'none']);
  });

  it('refuses bad input with SDK_INVALID_ARGUMENT', () => {
    const ok = b32('ok');
    const seed = balanceSeed(ok, ok);
    const bad: (() => unknown)[] = [
      () => balanceSeed('0x1234', ok),
      () => balanceSeed(ok, `${ok}00`),
      () => balanceSeed(ok.slice(2), ok),
      () => balanceSeed(`0x${'zz'.repeat(32)}`, ok),
      () => balanceSeed(new Uint8Array(31), ok),
      () => balanceSeed(ok, new Uint8Array(33)),
      () => drawTwo(seed, 0),
      () => drawTwo(seed, -1),
      () => drawTwo(seed, 2.5),
      () => drawTwo(seed, Number.NaN),
      () => drawTwo(seed, 2 ** 60),
      () => choose('none', seed, []),
      () => drawTwo(new Uint8Array(31), 6),
      () => drawTwo(`0x${'00'.repeat(32)}` as unknown as Uint8Array, 6),
      () => choose('round-robin' as never, seed, [0, 0]),
      () => choose('power-of-two', seed, [0, Number.NaN]),
      () => choose('power-of-two', seed, [0, -1]),
      () => choose('power-of-two', seed, [0, Number.POSITIVE_INFINITY]),
    ];
    for (const f of bad) expect(codeOf(f)).toBe('SDK_INVALID_ARGUMENT');
  });
});

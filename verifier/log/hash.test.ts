import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLogError } from './errors.js';
import { EMPTY_ROOT, leafHash, nodeHash } from './hash.js';

const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

describe('RFC 9162 §2.1.1 hashes', () => {
  it('nodeHash is SHA-256(0x01 ‖ l ‖ r) as node:crypto computes it', () => {
    const h32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
    fc.assert(
      fc.property(h32, h32, (l, r) => {
        expect(nodeHash(l, r)).toEqual(sha(Uint8Array.of(1), l, r));
      }),
      { numRuns: 2000 },
    );
    const ones = new Uint8Array(32).fill(0xff);
    expect(nodeHash(ones, ones)).toEqual(sha(Uint8Array.of(1), ones, ones));
  });

  it('leafHash is SHA-256(0x00 ‖ d); the empty tree is SHA-256()', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (d) => {
        expect(leafHash(d)).toEqual(sha(Uint8Array.of(0), d));
      }),
    );
    expect(Buffer.from(EMPTY_ROOT).toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('refuses children that are not 32 bytes', () => {
    try {
      nodeHash(new Uint8Array(31), new Uint8Array(32));
      expect.unreachable();
    } catch (e) {
      expect(isLogError(e, 'LOG_INVALID_ARGUMENT')).toBe(true);
    }
  });
});

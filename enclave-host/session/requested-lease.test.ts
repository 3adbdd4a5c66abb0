import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/error-code.js';
import { requestedLease } from './requested-lease.js';

const MAX = (1n << 256n) - 1n;

describe('requestedLease', () => {
  const standalone = { defaultLease: 7n, anyLease: false };
  const checked = { defaultLease: 7n, anyLease: true };

  it('empty is the default lease; a decimal uint256 is taken as asked', () => {
    expect(requestedLease('', standalone)).toBe(7n);
    expect(requestedLease('', checked)).toBe(7n);
    expect(requestedLease('7', standalone)).toBe(7n);
    expect(requestedLease('0', checked)).toBe(0n);
    expect(requestedLease(MAX.toString(), checked)).toBe(MAX);
  });

  it('a standalone executor refuses any other lease with WRONG_LEASE', () => {
    expect(codeOf(() => requestedLease('8', standalone))).toBe('WRONG_LEASE');
    expect(codeOf(() => requestedLease(MAX.toString(), standalone))).toBe('WRONG_LEASE');
  });

  it('anything but a decimal uint256 is HANDSHAKE_MALFORMED, whoever decides', () => {
    for (const o of [standalone, checked])
      for (const s of [
        '-1',
        '+1',
        '07',
        '0x7',
        '7n',
        ' 7',
        '7\n',
        '1e3',
        '٧',
        (MAX + 1n).toString(),
        '1'.repeat(79),
      ])
        expect([s, codeOf(() => requestedLease(s, o))]).toEqual([s, 'HANDSHAKE_MALFORMED']);
  });
});

import { describe, expect, it } from 'vitest';
import { typedDataJson } from './typed-data.js';

describe('typedDataJson', () => {
  it('writes every uint as a decimal string and keeps the other fields and the key order', () => {
    const h = `0x${'ab'.repeat(32)}`;
    const big = 2n ** 200n + 1n;
    const j = typedDataJson({
      nonce: 7n,
      functionHash: h,
      inputHash: h,
      outputHash: h,
      usage: 0n,
      price: big,
    });
    expect(j).toEqual({
      nonce: '7',
      functionHash: h,
      inputHash: h,
      outputHash: h,
      usage: '0',
      price: big.toString(),
    });
    expect(Object.keys(j)).toEqual(['nonce', 'functionHash', 'inputHash', 'outputHash', 'usage', 'price']);
    expect(JSON.parse(JSON.stringify(j)).price).toBe(
      '1606938044258990275541962092341162602522202993782792835301377',
    );
  });
});

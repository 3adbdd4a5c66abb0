import { Wallet, ZeroHash } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex, signVoucher } from '../protocol/settlement.js';
import { nextRequestHead } from '../protocol/typed-data.js';
import { voucherToWire } from '../protocol/wire.js';
import { signingKey } from '../sdk/wallet.js';
import { type Harness, type RawSession, rawSession, startExecutor } from './e2e-harness.js';
import { codeOfAsync as codeOf } from './error-code.js';

// Requests that name wallets they cannot sign for are refused without leaving state behind or
// reaching the chain: no books, no lease lookups. Sealed frames over a real session on 127.0.0.1.

describe('refused requests keep nothing', () => {
  let h: Harness;
  let raw: RawSession;
  const leaseLookups: string[] = [];
  const forger = signingKey(Wallet.createRandom());
  const deadline = () => BigInt(Math.floor(Date.now() / 1000) + 3600);

  beforeAll(async () => {
    h = await startExecutor({
      leaseCheck: async ({ client }) => {
        leaseLookups.push(client);
      },
    });
    raw = await rawSession(h.endpoint, h.policy);
  });
  afterAll(async () => {
    raw.client.close();
    await h.stop();
  });

  it('Settle naming made-up wallets with forged vouchers', async () => {
    const codes = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const victim = Wallet.createRandom().address;
      const voucher = signVoucher(
        h.executor.domain,
        {
          leaseId: h.executor.leaseId,
          firstNonce: 1n,
          lastNonce: 1n,
          requestHead: ZeroHash,
          cumulativeAmount: 1n,
          deadline: deadline(),
        },
        forger.privateKey,
      );
      codes.add(
        await codeOf(
          raw.channel.request('settle', { settle: { client: victim, voucher: voucherToWire(voucher) } }),
        ),
      );
    }
    expect([...codes].every((c) => c !== 'OK')).toBe(true);
    expect(h.executor.clientBooks).toBe(0);
    expect(leaseLookups).toEqual([]);
  });

  it('per-call Invoke naming made-up wallets with forged vouchers', async () => {
    const codes = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const victim = Wallet.createRandom().address;
      const functionId = Buffer.alloc(32, 7);
      const input = Buffer.from(`x${i}`);
      const req = { nonce: 1n, functionHash: `0x${functionId.toString('hex')}`, inputHash: sha256Hex(input) };
      const voucher = signVoucher(
        h.executor.domain,
        {
          leaseId: h.executor.leaseId,
          firstNonce: 1n,
          lastNonce: 1n,
          requestHead: nextRequestHead(ZeroHash, req),
          cumulativeAmount: 0n,
          deadline: deadline(),
        },
        forger.privateKey,
      );
      codes.add(
        await codeOf(
          raw.channel.request('invoke', {
            invoke: {
              leaseId: h.executor.leaseId.toString(),
              client: victim,
              nonce: '1',
              functionId,
              input,
              voucher: voucherToWire(voucher),
            },
          }),
        ),
      );
    }
    expect(codes).toEqual(new Set(['VOUCHER_INVALID']));
    expect(h.executor.clientBooks).toBe(0);
    expect(leaseLookups).toEqual([]);
  });
});

import { getBytes, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settlementLeaseCheck } from '../cli/settlement-lease-check.js';
import { auction, type Chain, startChain, startLease } from '../contracts/test/chain-fixture.js';
import { buildExample } from '../examples/build-example.js';
import type { SignedVoucher } from '../protocol/settlement.js';
import { generateX25519 } from '../protocol/x25519.js';
import { connect } from '../sdk/connect.js';
import { type Harness, startExecutor } from './e2e-harness.js';
import { codeOfAsync as codeOf } from './error-code.js';

/*
 * Two leases the market bound to one provider's executor (Registry counts them in `activeLeases`),
 * served by one process, one enclave identity and one endpoint, checked against the real Settlement
 * on anvil: each session names its lease, the customer is served under it, and the provider process
 * is handed each lease's voucher.
 */

describe('one executor serving two on-chain leases (anvil)', () => {
  let ch: Chain;
  let first: bigint;
  let second: bigint;
  let h: Harness;
  const told: { leaseId: bigint; client: string; voucher: SignedVoucher }[] = [];

  beforeAll(async () => {
    ch = await startChain({ providers: 1, witnesses: 3 });
    first = await auction(ch, [1n]);
    await startLease(ch, first);
    second = await auction(ch, [1n]);
    await startLease(ch, second);
    const enclave = ch.enclaves[0]!;
    h = await startExecutor({
      identity: {
        identityPrivateKey: getBytes(enclave.privateKey),
        identityAddress: enclave.address.toLowerCase(),
        staticKey: generateX25519(),
      },
      leaseId: first,
      domain: {
        chainId: BigInt(ch.deployment.chainId),
        verifyingContract: ch.deployment.contracts.settlement,
      },
      leaseCheck: settlementLeaseCheck(ch.c.settlement),
      pricePerCall: 1n,
      onVoucher: (v) => told.push(v),
    });
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
    await ch?.stop();
  });

  it('the registry counts both leases on the one executor', async () => {
    const l1 = await ch.c.settlement.lease(first);
    const l2 = await ch.c.settlement.lease(second);
    expect(l1.enclave.toLowerCase()).toBe(h.executor.identity.identityAddress);
    expect(l2.enclave.toLowerCase()).toBe(h.executor.identity.identityAddress);
    const e = await ch.c.registry.executor(ch.executorIds[0]!);
    expect(e.activeLeases).toBe(2n);
  });

  it('serves each lease to its customer under its own terms, and hands over both vouchers', async () => {
    const customer = new Wallet(ch.customer.wallet.privateKey);
    const echo = await buildExample('echo');
    const domain = {
      chainId: BigInt(ch.deployment.chainId),
      verifyingContract: ch.deployment.contracts.settlement,
    };
    for (const lease of [first, second]) {
      const s = await connect(h.endpoint, { policy: h.policy, leaseId: lease, domain });
      try {
        expect(s.accepted.terms.leaseId).toBe(lease);
        const fn = await s.deploy(echo);
        const r = await s.invoke(fn, new TextEncoder().encode('hi'), { wallet: customer });
        expect(r.receipt.receipt.leaseId).toBe(lease);
        // Another wallet is not this lease's customer.
        expect(await codeOf(s.invoke(fn, new Uint8Array(1), { wallet: Wallet.createRandom() }))).toBe(
          'NOT_LEASE_CUSTOMER',
        );
      } finally {
        await s.close();
      }
    }
    const me = customer.address.toLowerCase();
    expect(told.map((t) => [t.leaseId, t.client, t.voucher.voucher.cumulativeAmount])).toEqual([
      [first, me, 1n],
      [second, me, 1n],
    ]);
    expect(
      h.executor
        .latestVouchers()
        .map((l) => l.leaseId)
        .sort(),
    ).toEqual([first, second].sort());
  }, 60_000);

  it('a lease the chain has not opened is asked for and refused at the first call', async () => {
    const s = await connect(h.endpoint, { policy: h.policy, leaseId: second + 1000n });
    try {
      const fn = await s.deploy(await buildExample('echo'));
      expect(
        await codeOf(s.invoke(fn, new Uint8Array(1), { wallet: new Wallet(ch.customer.wallet.privateKey) })),
      ).toBe('LEASE_NOT_ACTIVE');
    } finally {
      await s.close();
    }
  }, 60_000);
});

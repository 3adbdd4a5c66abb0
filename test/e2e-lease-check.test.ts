import { getBytes, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settlementLeaseCheck } from '../cli/settlement-lease-check.js';
import { MarketState } from '../contracts/bindings/index.js';
import { auction, type Chain, DURATION, startChain, startLease } from '../contracts/test/chain-fixture.js';
import { generateEnclaveIdentity } from '../enclave-host/session/identity.js';
import { buildExample } from '../examples/build-example.js';
import { generateX25519 } from '../protocol/x25519.js';
import { connect } from '../sdk/connect.js';
import { isDefaasError } from '../sdk/errors.js';
import { type Harness, startExecutor } from './e2e-harness.js';
import { codeOfAsync as codeOf } from './error-code.js';

/*
 * The executor's on-chain lease check against a real Settlement on anvil: a lease won in the
 * market and started by its customer is served to that customer only, by the enclave it is bound
 * to, while it is open; anything else is refused with a typed error and the executor keeps serving.
 */

describe('on-chain lease check (anvil)', () => {
  let ch: Chain;
  let leaseId: bigint;
  let echo: Uint8Array;
  const harnesses: Harness[] = [];

  beforeAll(async () => {
    ch = await startChain({ providers: 1, witnesses: 3 });
    const orderId = await auction(ch, [1n]);
    await startLease(ch, orderId);
    leaseId = orderId;
    echo = await buildExample('echo');
  }, 120_000);

  afterAll(async () => {
    for (const h of harnesses) await h.stop();
    await ch?.stop();
  });

  async function executorFor(
    identityKey: Wallet | undefined,
    lease: bigint,
    leaseCheck = settlementLeaseCheck(ch.c.settlement),
  ): Promise<Harness> {
    const identity = identityKey
      ? {
          identityPrivateKey: getBytes(identityKey.privateKey),
          identityAddress: identityKey.address.toLowerCase(),
          staticKey: generateX25519(),
        }
      : generateEnclaveIdentity();
    const h = await startExecutor({
      identity,
      leaseId: lease,
      domain: {
        chainId: BigInt(ch.deployment.chainId),
        verifyingContract: ch.deployment.contracts.settlement,
      },
      leaseCheck,
      leaseCheckTtlMs: 0,
    });
    harnesses.push(h);
    return h;
  }

  async function call(h: Harness, wallet: Wallet): Promise<string> {
    const s = await connect(h.endpoint, { policy: h.policy });
    try {
      const fn = await s.deploy(echo);
      const r = await s.invoke(fn, new TextEncoder().encode('hi'), { wallet });
      expect(new TextDecoder().decode(r.output)).toBe('hi');
      return 'ok';
    } catch (e) {
      return isDefaasError(e) ? e.code : `crash: ${String(e)}`;
    } finally {
      await s.close();
    }
  }

  it('serves the lease customer, refuses another wallet, and keeps serving', async () => {
    const h = await executorFor(ch.enclaves[0], leaseId);
    const customer = new Wallet(ch.customer.wallet.privateKey);
    expect(await call(h, customer)).toBe('ok');
    expect(await call(h, new Wallet(Wallet.createRandom().privateKey))).toBe('NOT_LEASE_CUSTOMER');
    expect(await call(h, customer)).toBe('ok');
  }, 60_000);

  it('an enclave the lease is not bound to refuses: WRONG_LEASE', async () => {
    const h = await executorFor(undefined, leaseId);
    expect(await call(h, new Wallet(ch.customer.wallet.privateKey))).toBe('WRONG_LEASE');
  }, 60_000);

  it('a voucher above the lease budget is refused: VOUCHER_OVER_BUDGET (Settlement would not redeem it)', async () => {
    const { budget } = await ch.c.settlement.lease(leaseId);
    // One call costs the whole budget: the first voucher reaches it, the second would pass it.
    const h = await startExecutor({
      identity: {
        identityPrivateKey: getBytes(ch.enclaves[0]!.privateKey),
        identityAddress: ch.enclaves[0]!.address.toLowerCase(),
        staticKey: generateX25519(),
      },
      leaseId,
      domain: {
        chainId: BigInt(ch.deployment.chainId),
        verifyingContract: ch.deployment.contracts.settlement,
      },
      leaseCheck: settlementLeaseCheck(ch.c.settlement),
      pricePerCall: budget,
    });
    harnesses.push(h);
    const s = await connect(h.endpoint, { policy: h.policy });
    try {
      const fn = await s.deploy(echo);
      const customer = new Wallet(ch.customer.wallet.privateKey);
      const first = await s.invoke(fn, new TextEncoder().encode('within'), { wallet: customer });
      expect(first.record.price).toBe(budget);
      expect(await codeOf(s.invoke(fn, new TextEncoder().encode('over'), { wallet: customer }))).toBe(
        'VOUCHER_OVER_BUDGET',
      );
    } finally {
      await s.close();
    }
  }, 60_000);

  it('a lease id with no lease on chain is not served: LEASE_NOT_ACTIVE', async () => {
    const h = await executorFor(ch.enclaves[0], leaseId + 1000n);
    expect(await call(h, new Wallet(ch.customer.wallet.privateKey))).toBe('LEASE_NOT_ACTIVE');
  }, 60_000);

  it('an unreachable chain refuses the call (fail closed): LEASE_CHECK_UNAVAILABLE', async () => {
    const down = settlementLeaseCheck({
      lease: (() => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1'))) as never,
    });
    const h = await executorFor(ch.enclaves[0], leaseId, down);
    const s = await connect(h.endpoint, { policy: h.policy });
    const fn = await s.deploy(echo);
    expect(
      await codeOf(s.invoke(fn, new Uint8Array(1), { wallet: new Wallet(ch.customer.wallet.privateKey) })),
    ).toBe('LEASE_CHECK_UNAVAILABLE');
    await s.close();
  }, 60_000);

  it('a lease the market closed (all epochs over, Finished) is no longer served: LEASE_NOT_ACTIVE', async () => {
    await ch.advance(DURATION);
    await ch.tx('Market.finish', ch.c.market.finish(leaseId));
    expect((await ch.c.market.order(leaseId)).state).toBe(MarketState.Finished);
    const h = await executorFor(ch.enclaves[0], leaseId);
    expect(await call(h, new Wallet(ch.customer.wallet.privateKey))).toBe('LEASE_NOT_ACTIVE');
  }, 60_000);
});

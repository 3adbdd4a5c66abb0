import { getBytes, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settlementLeaseCheck } from '../cli/settlement-lease-check.js';
import { auction, type Chain, startChain, startLease } from '../contracts/test/chain-fixture.js';
import { buildExample } from '../examples/build-example.js';
import { type ProbeGrant, type SignedProbeGrant, signProbeGrant } from '../protocol/probe-grant.js';
import type { TypedDataDomain } from '../protocol/typed-data.js';
import { generateX25519 } from '../protocol/x25519.js';
import { connect } from '../sdk/connect.js';
import type { FunctionHandle, Session } from '../sdk/session/session.js';
import { type Harness, startExecutor } from './e2e-harness.js';
import { codeOfAsync } from './error-code.js';

/*
 * A witness's hidden probes against a real executor whose lease check is the chain's
 * (cli/settlement-lease-check.ts against a Settlement and Market on anvil): the customer's grant lets
 * the witness call through its own session and wallet, within the grant's cap, which the customer's
 * own vouchers must leave; a missing, foreign, forged, expired or wrong-epoch grant is refused with
 * its typed code. One call costs an eighth of the lease budget.
 */

describe('probe grants (executor with the chain lease check, anvil)', () => {
  let ch: Chain;
  let leaseId: bigint;
  let domain: TypedDataDomain;
  let h: Harness;
  let echo: Uint8Array;
  let price: bigint;
  let epoch: bigint;
  /** The executor's wall clock, pinned to chain time at the start (expiry and epoch are judged by it). */
  let nowS: bigint;
  let customerKey: Uint8Array;
  const sessions: Session[] = [];

  beforeAll(async () => {
    ch = await startChain({ providers: 1, witnesses: 3 });
    leaseId = await auction(ch, [1n]);
    await startLease(ch, leaseId);
    domain = {
      chainId: BigInt(ch.deployment.chainId),
      verifyingContract: ch.deployment.contracts.settlement,
    };
    nowS = await ch.now();
    const o = await ch.c.market.order(leaseId);
    epoch = (nowS - o.startedAt) / o.epochLength;
    price = (await ch.c.settlement.lease(leaseId)).budget / 8n;
    customerKey = getBytes(ch.customer.wallet.privateKey);
    echo = await buildExample('echo');
    h = await startExecutor({
      identity: {
        identityPrivateKey: getBytes(ch.enclaves[0]!.privateKey),
        identityAddress: ch.enclaves[0]!.address.toLowerCase(),
        staticKey: generateX25519(),
      },
      leaseId,
      domain,
      pricePerCall: price,
      leaseCheck: settlementLeaseCheck(ch.c.settlement, {
        domain,
        market: ch.c.market,
        now: () => Number(nowS) * 1000,
      }),
      leaseCheckTtlMs: 0,
    });
  }, 120_000);

  afterAll(async () => {
    for (const s of sessions) await s.close();
    await h?.stop();
    await ch?.stop();
  });

  function grantFor(witness: Wallet, g: Partial<ProbeGrant> = {}, key = customerKey): SignedProbeGrant {
    return signProbeGrant(key, domain, {
      leaseId,
      witness: witness.address,
      epoch,
      maxCalls: 2n,
      maxAmount: 100n * price,
      expiry: nowS + 3600n,
      ...g,
    });
  }

  async function session(): Promise<{ s: Session; fn: FunctionHandle }> {
    const s = await connect(h.endpoint, { policy: h.policy });
    sessions.push(s);
    return { s, fn: await s.deploy(echo) };
  }

  const input = new TextEncoder().encode('probe');
  const newWallet = () => new Wallet(Wallet.createRandom().privateKey);

  it('a witness with a valid grant is served up to its cap (maxCalls × price), and refused above it', async () => {
    const witness = newWallet();
    const { s, fn } = await session();
    const grant = grantFor(witness);
    const first = await s.invoke(fn, input, { wallet: witness, grant });
    expect(new TextDecoder().decode(first.output)).toBe('probe');
    expect(first.record.price).toBe(price);
    await s.invoke(fn, input, { wallet: witness, grant });
    // The third call needs a voucher for 3 × price, above the cap of 2 × price.
    expect(await codeOfAsync(s.invoke(fn, input, { wallet: witness, grant }))).toBe('VOUCHER_OVER_BUDGET');
    // A second session of the witness is served under the grant it bound with: still capped.
    const other = await session();
    expect(await codeOfAsync(other.s.invoke(other.fn, input, { wallet: witness, grant }))).toBe(
      'VOUCHER_OVER_BUDGET',
    );
  }, 60_000);

  it('attack: a wallet without a grant, or with a foreign, forged, expired or wrong-epoch grant, is refused', async () => {
    const { s, fn } = await session();
    const call = (wallet: Wallet, grant?: SignedProbeGrant) =>
      codeOfAsync(s.invoke(fn, input, { wallet, ...(grant && { grant }) }));
    const w = newWallet();
    expect(await call(w)).toBe('NOT_LEASE_CUSTOMER');
    expect(await call(newWallet(), grantFor(w))).toBe('PROBE_GRANT_MISMATCH');
    expect(await call(w, grantFor(w, { leaseId: leaseId + 1n }))).toBe('PROBE_GRANT_MISMATCH');
    expect(await call(w, grantFor(w, {}, getBytes(newWallet().privateKey)))).toBe('PROBE_GRANT_INVALID');
    // Signed by the witness itself, or by the customer in another domain (chain or contract).
    expect(await call(w, grantFor(w, {}, getBytes(w.privateKey)))).toBe('PROBE_GRANT_INVALID');
    const elsewhere = signProbeGrant(
      customerKey,
      { ...domain, chainId: domain.chainId + 1n },
      grantFor(w).grant,
    );
    expect(await call(w, elsewhere)).toBe('PROBE_GRANT_INVALID');
    // Fields changed under the customer's signature.
    const raised = { ...grantFor(w), grant: { ...grantFor(w).grant, maxCalls: 50n } };
    expect(await call(w, raised)).toBe('PROBE_GRANT_INVALID');
    expect(await call(w, grantFor(w, { expiry: nowS }))).toBe('PROBE_GRANT_EXPIRED');
    expect(await call(w, grantFor(w, { epoch: epoch + 1n }))).toBe('PROBE_GRANT_WRONG_EPOCH');
    // The customer does not probe itself under a grant.
    const customer = new Wallet(ch.customer.wallet.privateKey);
    expect(await call(customer, grantFor(customer))).toBe('PROBE_GRANT_MISMATCH');
    // None of them let the wallet in: on a fresh session (this one re-sends the last grant given), it
    // is a stranger.
    const fresh = await session();
    expect(await codeOfAsync(fresh.s.invoke(fresh.fn, input, { wallet: w }))).toBe('NOT_LEASE_CUSTOMER');
  }, 60_000);

  it("attack: the customer's vouchers cannot eat the caps reserved for grants; a grant that does not fit is refused", async () => {
    // Reserved so far: 2 × price (the first witness). Another witness: 3 × price by maxAmount.
    const { s, fn } = await session();
    const w = newWallet();
    await s.invoke(fn, input, { wallet: w, grant: grantFor(w, { maxCalls: 100n, maxAmount: 3n * price }) });
    // The customer has 8 − 2 − 3 = 3 calls' worth.
    const customer = new Wallet(ch.customer.wallet.privateKey);
    for (let i = 0; i < 3; i++) await s.invoke(fn, input, { wallet: customer });
    expect(await codeOfAsync(s.invoke(fn, input, { wallet: customer }))).toBe('VOUCHER_OVER_BUDGET');
    // The budget is spoken for: a third witness's grant of one call does not fit.
    const late = newWallet();
    expect(
      await codeOfAsync(s.invoke(fn, input, { wallet: late, grant: grantFor(late, { maxCalls: 1n }) })),
    ).toBe('PROBE_GRANT_OVER_BUDGET');
    // The second witness still has its room.
    await s.invoke(fn, input, { wallet: w });
  }, 60_000);
});

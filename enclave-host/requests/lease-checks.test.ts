import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { sessionFail } from '../../protocol/errors.js';
import type { SignedProbeGrant } from '../../protocol/probe-grant.js';
import { codeOfAsync } from '../../test/error-code.js';
import { LeaseChecks } from './lease-checks.js';

/* The lease-check cache: trusted for its TTL, refusals not remembered, at most `maxEntries` kept. */

const ENCLAVE = `0x${'ee'.repeat(20)}`;
const client = (i: number) => `0x${i.toString(16).padStart(40, '0')}`;

function checks(maxEntries: number, refuse: (client: string) => boolean = () => false) {
  let now = 0;
  const asked: string[] = [];
  const c = new LeaseChecks({
    check: async ({ client }) => {
      asked.push(client);
      if (refuse(client)) sessionFail('NOT_LEASE_CUSTOMER', 'not a customer');
    },
    ttlMs: 1_000,
    maxEntries,
    enclave: ENCLAVE,
    now: () => now,
    log: pino({ level: 'silent' }),
  });
  const at = (t: number) => {
    now = t;
  };
  return { c, asked, at };
}

describe('LeaseChecks', () => {
  it('asks once per TTL, and again once it passed; a refusal is not remembered', async () => {
    const { c, asked, at } = checks(8, (x) => x === client(2));
    await c.check(1n, client(1));
    await c.check(1n, client(1));
    expect(asked).toEqual([client(1)]);
    expect(await codeOfAsync(c.check(1n, client(2)))).toBe('NOT_LEASE_CUSTOMER');
    expect(await codeOfAsync(c.check(1n, client(2)))).toBe('NOT_LEASE_CUSTOMER');
    expect(c.size).toBe(1);
    at(1_000);
    await c.check(1n, client(1));
    expect(asked).toEqual([client(1), client(2), client(2), client(1)]);
  });

  it('keeps at most maxEntries: the expired go first, then the oldest', async () => {
    const { c, asked, at } = checks(3);
    await c.check(1n, client(1));
    at(500);
    await c.check(1n, client(2));
    await c.check(1n, client(3));
    // Full, nothing expired: the oldest (1) goes.
    at(800);
    await c.check(1n, client(4));
    expect(c.size).toBe(3);
    asked.length = 0;
    await c.check(1n, client(3));
    await c.check(1n, client(4));
    expect(asked).toEqual([]);
    // 2 and 3 expire at 1,500: both go for 5, and 4 stays.
    at(1_500);
    await c.check(1n, client(5));
    expect(c.size).toBe(2);
    await c.check(1n, client(4));
    await c.check(1n, client(1));
    expect(asked).toEqual([client(5), client(1)]);
    expect(c.size).toBe(3);
  });

  it('many clients leave at most maxEntries behind', async () => {
    const { c } = checks(16);
    for (let i = 0; i < 1_000; i++) await c.check(1n, client(i));
    expect(c.size).toBe(16);
  });
});

describe('LeaseChecks with probe grants', () => {
  const witness = client(9);
  const grant = (expiry: bigint, maxCalls = 5n): SignedProbeGrant => ({
    grant: { leaseId: 1n, witness, epoch: 0n, maxCalls, maxAmount: 50n, expiry },
    signature: new Uint8Array(65).fill(1),
  });
  function grantChecks() {
    let now = 0;
    const asked: (bigint | undefined)[] = [];
    const c = new LeaseChecks({
      check: async ({ grant }) => {
        asked.push(grant?.grant.maxCalls);
        if (!grant) sessionFail('NOT_LEASE_CUSTOMER', 'not a customer');
        if (BigInt(now) >= grant.grant.expiry * 1000n) sessionFail('PROBE_GRANT_EXPIRED', 'expired');
        return { probe: { customer: client(1), grant: grant.grant, until: grant.grant.expiry } };
      },
      ttlMs: 10_000,
      maxEntries: 8,
      enclave: ENCLAVE,
      now: () => now,
      log: pino({ level: 'silent' }),
    });
    return { c, asked, at: (t: number) => (now = t) };
  }

  it('remembers the grant a witness bound with for its later requests, each grant cached on its own', async () => {
    const { c, asked } = grantChecks();
    expect(await codeOfAsync(c.check(1n, witness))).toBe('NOT_LEASE_CUSTOMER');
    expect((await c.check(1n, witness, grant(100n))).probe?.grant.maxCalls).toBe(5n);
    expect((await c.check(1n, witness)).probe?.grant.maxCalls).toBe(5n);
    expect((await c.check(1n, witness, grant(100n, 7n))).probe?.grant.maxCalls).toBe(7n);
    expect((await c.check(1n, witness)).probe?.grant.maxCalls).toBe(7n);
    expect(asked).toEqual([undefined, 5n, 7n]);
  });

  it('trusts a passed grant no longer than its `until`, then refuses and forgets it', async () => {
    const { c, asked, at } = grantChecks();
    await c.check(1n, witness, grant(2n));
    at(1_999);
    await c.check(1n, witness);
    expect(asked).toEqual([5n]);
    at(2_000);
    expect(await codeOfAsync(c.check(1n, witness))).toBe('PROBE_GRANT_EXPIRED');
    expect(await codeOfAsync(c.check(1n, witness))).toBe('NOT_LEASE_CUSTOMER');
  });
});

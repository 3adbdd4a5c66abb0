import { getBytes, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signClientBinding } from '../protocol/client-binding.js';
import { sessionFail } from '../protocol/errors.js';
import { DefaasError } from '../sdk/errors.js';
import type { SecureChannel } from '../sdk/session/channel.js';
import { type Harness, type RawSession, rawSession, startExecutor } from './e2e-harness.js';

/*
 * Attacks on the session protocol over real gRPC on 127.0.0.1 (docs/session.md, "The client's trust
 * rule" and "Billing rules"): a relay or host on the path, a customer sending what an honest SDK
 * would not, a provider trying to charge for what did not run. Each case asserts the precise outcome
 * the protocol promises.
 */

interface Key {
  readonly address: string;
  readonly privateKey: Uint8Array;
}

function newKey(): Key {
  const w = Wallet.createRandom();
  return { address: w.address.toLowerCase(), privateKey: getBytes(w.privateKey) };
}

/** The sealed refusal code of a request through `ch`, or 'OK'. */
async function sealedCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    if (!(e instanceof DefaasError) || e.origin !== 'sealed') throw e;
    return e.code;
  }
}

function bindSync(ch: SecureChannel, lease: bigint, key: Key, nonces: string[] = []) {
  return ch.request('sync', {
    sync: {
      leaseId: lease.toString(),
      client: key.address,
      clientProof: Buffer.from(signClientBinding(key.privateKey, ch.accepted.sessionId, lease)),
      nonces,
    },
  });
}

describe('a stranger to the lease keeps no books (lease check on Sync)', () => {
  const customer = newKey();
  let h: Harness;
  let raw: RawSession;

  beforeAll(async () => {
    h = await startExecutor({
      leaseCheck: async ({ client }) => {
        if (client !== customer.address) sessionFail('NOT_LEASE_CUSTOMER', `${client} is not the customer`);
      },
    });
    raw = await rawSession(h.endpoint, h.policy);
  });
  afterAll(async () => {
    raw.client.close();
    await h.stop();
  });

  it('binding made-up wallets (each signing its own proof) is refused and leaves no books or fenced nonces', async () => {
    const lease = h.executor.leaseId;
    for (let i = 0; i < 5; i++) {
      const stranger = newKey();
      expect(await sealedCode(bindSync(raw.channel, lease, stranger, ['1']))).toBe('NOT_LEASE_CUSTOMER');
      // Not bound either: a Sync without the proof is refused as for any unbound wallet.
      const unbound = raw.channel.request('sync', {
        sync: { leaseId: lease.toString(), client: stranger.address, nonces: ['2'] },
      });
      expect(await sealedCode(unbound)).toBe('CLIENT_NOT_BOUND');
    }
    expect(h.executor.clientBooks).toBe(0);
    const res = await bindSync(raw.channel, lease, customer, ['1']);
    expect(res.sync?.calls[0]?.state).toBe('CALL_STATE_NOT_RUN');
    expect(h.executor.clientBooks).toBe(1);
  });
});

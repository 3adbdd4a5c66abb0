import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionRuntime } from '../enclave-host/runtime/function-runtime.js';
import { buildExample } from '../examples/build-example.js';
import { connect, type Session } from '../sdk/index.js';
import { type Harness, LIMITS, rawSession, startExecutor } from './e2e-harness.js';
import { codeOfAsync as codeOf } from './error-code.js';

// The function registry over real sessions on 127.0.0.1: the deploying party is the peer address,
// so its quota is shared by all its sessions; undeploy gives a place back.

describe('deploy quota and undeploy', () => {
  let h: Harness;
  let a: Session;
  let b: Session;
  beforeAll(async () => {
    h = await startExecutor({
      runtime: new FunctionRuntime({ workers: 2, limits: LIMITS, maxFunctionsPerOwner: 2 }),
    });
    a = await connect(h.endpoint, { policy: h.policy });
    b = await connect(h.endpoint, { policy: h.policy });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await h.stop();
  });

  it('one peer holds at most its quota across its sessions, and undeploy frees a place', async () => {
    const echo = await a.deploy(await buildExample('echo'));
    await b.deploy(await buildExample('trap'));
    // A second session from the same address does not get a quota of its own.
    expect(await codeOf(b.deploy(await buildExample('exit-nonzero')))).toBe('FUNCTION_TOO_MANY');
    expect(await codeOf(a.deploy(await buildExample('exit-nonzero')))).toBe('FUNCTION_TOO_MANY');
    // Deploying what the peer already holds costs nothing.
    await b.deploy(await buildExample('echo'));
    expect(await a.undeploy(echo)).toBe(true);
    expect(await a.undeploy(echo)).toBe(false);
    expect(await codeOf(a.invoke(echo, new Uint8Array(1), { wallet: Wallet.createRandom() }))).toBe(
      'FUNCTION_NOT_FOUND',
    );
    const exit = await b.deploy(await buildExample('exit-nonzero'));
    expect(exit.id).toHaveLength(64);
  });

  it('refuses a malformed Undeploy, and one for a function the peer never held', async () => {
    const raw = await rawSession(h.endpoint, h.policy);
    try {
      const undeploy = (functionId: Buffer) => raw.channel.request('undeploy', { undeploy: { functionId } });
      expect(await codeOf(undeploy(Buffer.alloc(3)))).toBe('REQUEST_MALFORMED');
      const r = await undeploy(Buffer.alloc(32, 9));
      expect(r.undeploy?.removed).toBe(false);
    } finally {
      raw.client.close();
    }
  });
});

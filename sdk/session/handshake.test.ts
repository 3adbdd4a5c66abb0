import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IntelCollateral } from '../../attestation/intel/types.js';
import { type Harness, startExecutor } from '../../test/e2e-harness.js';
import { connect } from '../connect.js';

/** Client-supplied collateral replaces the executor's for verification, never in the transcript. */
describe('handshake with client collateral', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startExecutor();
  });
  afterAll(async () => {
    await h.stop();
  });

  it('verifies the transcript over the evidence bundle exactly as the executor sent it', async () => {
    const signed = { text: '{}', signature: new Uint8Array(64), issuerChain: '' };
    // Simulated evidence does not use Intel collateral; the transcript signature must still verify.
    const collateral: IntelCollateral = {
      tcbInfo: signed,
      qeIdentity: signed,
      pckCrl: new Uint8Array(1),
      pckCrlIssuerChain: '',
      rootCaCrl: new Uint8Array(1),
    };
    const s = await connect(h.endpoint, { policy: h.policy, collateral });
    expect(s.accepted.identityAddress).toBe(h.executor.identity.identityAddress);
    await s.close();
  });
});

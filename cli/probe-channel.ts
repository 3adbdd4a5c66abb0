import type { SignedProbeGrant } from '../protocol/probe-grant.js';
import { DefaasError, type FunctionHandle, type Session, type WalletLike } from '../sdk/index.js';
import type { ProbeChannel } from '../verifier/probes/runner.js';

/**
 * Hidden probes through an SDK session (verifier/probes/runner.ts): each probe is an ordinary
 * invocation of `fn`, paid with `wallet`'s vouchers. A call that ran and failed is an answer (the
 * output hash of its verified record is the hash of the enclave's error); everything else (refused,
 * lost, a plaintext error) is no answer. With the customer's `grant`, a chain executor serves the
 * wallet as the grant's witness (docs/witness.md, "Paying for probes").
 */
export function sessionProbeChannel(
  session: Session,
  fn: FunctionHandle,
  wallet: WalletLike,
  grant?: SignedProbeGrant,
): ProbeChannel {
  return {
    async invoke(input) {
      try {
        const r = await session.invoke(fn, input, { wallet, ...(grant && { grant }) });
        return { outputHash: r.record.outputHash };
      } catch (e) {
        const record = e instanceof DefaasError && e.origin === 'sealed' ? e.call?.record : undefined;
        if (record) return { outputHash: record.outputHash };
        throw e;
      }
    },
  };
}

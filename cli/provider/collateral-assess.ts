import type { VerifyCache } from '../../attestation/cache.js';
import { verifyEvidence } from '../../attestation/check.js';
import { type AttestationErrorCode, isAttestationError } from '../../attestation/errors.js';
import type { TcbStatus } from '../../attestation/evidence.js';
import { verifyCollateral } from '../../attestation/intel/collateral.js';
import type { TrustRoots } from '../../attestation/roots.js';
import type { PlatformCollateral } from './collateral-source.js';

/*
 * What a client's verifier will say about this platform with the given collateral, using the
 * client's own code (attestation/check.ts verifyEvidence at `now`). Collateral that is not genuine
 * and current (bad signature, malformed, expired, not yet valid, for another platform) is refused
 * with the verifier's error. Genuine, current collateral that rates the platform Revoked or matches
 * no TCB level is accepted with that status: hiding it behind older collateral would only delay
 * what every client will see.
 */

/**
 * Intel's TCB statuses; `Revoked` (TCB_REVOKED, or a revoked PCK / AMD certificate) and
 * `NotSupported` (TCB_NOT_SUPPORTED: no TCB level matches); `Verified` for SEV-SNP, whose vendor
 * publishes no TCB status: the report verifies with its VCEK, chain and CRL.
 */
export type KeeperTcbStatus = TcbStatus | 'Revoked' | 'NotSupported' | 'Verified';

export interface Assessment {
  readonly tcbStatus: KeeperTcbStatus;
  readonly advisories?: readonly string[];
}

const ADOPTED_REFUSALS: Partial<Record<AttestationErrorCode, KeeperTcbStatus>> = {
  TCB_REVOKED: 'Revoked',
  CERT_REVOKED: 'Revoked',
  TCB_NOT_SUPPORTED: 'NotSupported',
};

export function assessCollateral(
  evidence: Uint8Array,
  c: PlatformCollateral,
  o: { now: Date; roots?: TrustRoots; cache?: VerifyCache },
): Assessment {
  const opts = { now: o.now, ...(o.roots && { roots: o.roots }), ...(o.cache && { cache: o.cache }) };
  // The collateral on its own first: a revoked TCB Signing certificate is bad collateral, not a status.
  if (c.intel) verifyCollateral(c.intel, opts);
  try {
    const v = verifyEvidence({ evidence, ...c }, opts);
    if (v.tee === 'tdx' || v.tee === 'sgx') return { tcbStatus: v.tcbStatus, advisories: v.advisoryIds };
    return { tcbStatus: 'Verified' };
  } catch (e) {
    const status = isAttestationError(e) ? ADOPTED_REFUSALS[e.code] : undefined;
    if (status) return { tcbStatus: status };
    throw e;
  }
}

import { CodedError, type ErrorInfo } from '../../attestation/errors.js';
import { parseQeIdentity } from '../../attestation/intel/qe-identity.js';
import { parseTcbInfo } from '../../attestation/intel/tcb-info.js';
import { parseCrl } from '../../attestation/x509.js';
import type { PlatformCollateral } from './collateral-source.js';

/*
 * A refresh never goes back in time. An answer older than the collateral held (a lower TCB
 * evaluation data number, an earlier issue date, an earlier CRL) is a replay or a stale mirror: it
 * could put back a TCB rating Intel has since lowered, or a CRL from before a revocation. Such an
 * answer is refused with COLLATERAL_ROLLBACK and the newer collateral kept. The same answer again is
 * no rollback.
 */

export type CollateralKeeperErrorCode = 'COLLATERAL_ROLLBACK';

export class CollateralKeeperError extends CodedError<CollateralKeeperErrorCode, 'verification'> {
  override readonly name = 'CollateralKeeperError';

  constructor(code: CollateralKeeperErrorCode, message: string, info?: ErrorInfo) {
    super(code, 'verification', message, info);
  }
}

interface Mark {
  readonly what: string;
  readonly value: number;
  readonly shown: string;
}

function marks(c: PlatformCollateral): Mark[] {
  const out: Mark[] = [];
  const date = (what: string, d: Date) => out.push({ what, value: d.getTime(), shown: d.toISOString() });
  if (c.intel) {
    const tcb = parseTcbInfo(c.intel.tcbInfo.text);
    const qe = parseQeIdentity(c.intel.qeIdentity.text);
    const n = (what: string, v: number) => out.push({ what, value: v, shown: String(v) });
    n('TCB Info tcbEvaluationDataNumber', tcb.tcbEvaluationDataNumber);
    n('QE Identity tcbEvaluationDataNumber', qe.tcbEvaluationDataNumber);
    date('TCB Info issueDate', tcb.issueDate);
    date('QE Identity issueDate', qe.issueDate);
    date('PCK CRL thisUpdate', parseCrl(c.intel.pckCrl, 'PCK CRL').thisUpdate);
    date('Root CA CRL thisUpdate', parseCrl(c.intel.rootCaCrl, 'Root CA CRL').thisUpdate);
  }
  if (c.snp?.crl) date('AMD CRL thisUpdate', parseCrl(c.snp.crl, 'AMD CRL').thisUpdate);
  return out;
}

/** Throws COLLATERAL_ROLLBACK when `next` is older than `held` in anything both carry. */
export function checkNotOlder(held: PlatformCollateral, next: PlatformCollateral): void {
  const before = new Map(marks(held).map((m) => [m.what, m]));
  for (const m of marks(next)) {
    const h = before.get(m.what);
    if (h && m.value < h.value)
      throw new CollateralKeeperError(
        'COLLATERAL_ROLLBACK',
        `refused an older answer: ${m.what} ${m.shown} is before the held ${h.shown}`,
        { what: m.what, held: h.shown, offered: m.shown },
      );
  }
}

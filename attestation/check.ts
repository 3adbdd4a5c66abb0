import type { EvidenceBundle } from './bundle.js';
import type { VerifyCache } from './cache.js';
import { detectEvidenceFormat } from './detect.js';
import { fail } from './errors.js';
import type { VerifiedEvidence } from './evidence.js';
import { parseQuote, verifyQuote } from './intel/index.js';
import { type Policy, type ReportDataExpectation, validateEvidence } from './policy.js';
import { DEFAULT_TRUST_ROOTS, type TrustRoots } from './roots.js';
import { parseSnpReport, verifySnpReport } from './sev-snp/index.js';
import { parseSimulatedEvidence, verifySimulatedEvidence } from './simulated.js';

export interface CheckOptions {
  /** The verification time: collateral windows, certificate validity and collateral age are judged at it. */
  readonly now: Date;
  readonly policy: Policy;
  /** Expected REPORTDATA (exact or a binding predicate); overrides policy.reportData. */
  readonly reportData?: ReportDataExpectation;
  /** Roots of trust; the production pins by default. */
  readonly roots?: TrustRoots;
  /** Memo of time-independent results (signatures, chains) for repeated checks. */
  readonly cache?: VerifyCache;
}

/** Parse → verify without policy: what the evidence is, if it is genuine. */
export function verifyEvidence(
  bundle: EvidenceBundle,
  opts: Omit<CheckOptions, 'policy' | 'reportData'>,
): VerifiedEvidence {
  const roots = opts.roots ?? DEFAULT_TRUST_ROOTS;
  const format = detectEvidenceFormat(bundle.evidence);
  switch (format) {
    case 'simulated':
      return verifySimulatedEvidence(parseSimulatedEvidence(bundle.evidence));
    case 'intel-quote': {
      const quote = parseQuote(bundle.evidence);
      if (!bundle.intel)
        fail('COLLATERAL_MISSING', 'an Intel quote needs its collateral (TCB Info, QE Identity, CRLs)');
      return verifyQuote(quote, bundle.intel, {
        now: opts.now,
        roots,
        ...(opts.cache && { cache: opts.cache }),
      });
    }
    case 'sev-snp-report': {
      const report = parseSnpReport(bundle.evidence);
      const snp = bundle.snp ?? {};
      if (!snp.vcek && !snp.vlek)
        fail('COLLATERAL_MISSING', 'an SEV-SNP report needs the VCEK or VLEK certificate that signed it');
      return verifySnpReport(report, {
        now: opts.now,
        roots,
        ...(snp.vcek && { vcek: snp.vcek }),
        ...(snp.vlek && { vlek: snp.vlek }),
        ...(snp.chain && { chain: snp.chain }),
        ...(snp.crl && { crl: snp.crl }),
        ...(opts.cache && { cache: opts.cache }),
      });
    }
    default:
      return fail(
        'EVIDENCE_UNKNOWN_FORMAT',
        'evidence is neither an Intel quote, an SEV-SNP report nor simulated evidence',
        {
          length: bundle.evidence.length,
        },
      );
  }
}

/** Parse → verify → validate. Resolves with the verified evidence only when the policy accepts it. */
export async function checkEvidence(bundle: EvidenceBundle, opts: CheckOptions): Promise<VerifiedEvidence> {
  const v = verifyEvidence(bundle, opts);
  validateEvidence(v, opts.policy, {
    now: opts.now,
    ...(opts.reportData !== undefined && { reportData: opts.reportData }),
  });
  return v;
}

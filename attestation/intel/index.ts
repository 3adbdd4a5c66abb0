/*
 * Intel DCAP (SGX v3, TDX v4/v5 quotes): parse → verify. The policy (validate) stage is
 * `attestation/policy.ts`; `attestation/check.ts` runs all three.
 */

export {
  loadIntelCollateral,
  parseCollateralJson,
  type VerifyCollateralOptions,
  verifyCollateral,
} from './collateral.js';
export { OID_SGX_EXTENSIONS, parsePckExtensions, type VerifiedPckChain, verifyPckChain } from './pck.js';
export {
  type IntelQuote,
  parseQuote,
  type QuoteHeader,
  type QuoteLayout,
  type SgxQuote,
  type TdReportBody,
  type TdxQuote,
} from './quote.js';
export { assessIntelTcb, type IntelTcbAssessment } from './tcb-status.js';
export type {
  EnclaveReportBody,
  IntelCollateral,
  PckExtensions,
  SignedJson,
  VerifiedCollateral,
} from './types.js';
export { tryVerifyQuote, type VerifyQuoteOptions, verifyQuote } from './verify-quote.js';

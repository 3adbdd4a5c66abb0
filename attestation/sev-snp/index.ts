/** AMD SEV-SNP: parse (report.ts) → verify (verify.ts); KDS collateral (kds.ts); host certificate tables (cert-table.ts). Policy lives in ../policy.ts. */
export { reportDataIsSha512Of } from './binding.js';
export {
  buildSnpCertTable,
  MAX_CERT_TABLE_BYTES,
  parseSnpCertTable,
  SNP_CERT_GUIDS,
  type SnpCertKind,
  type SnpCertTable,
  snpCollateralFromCertTable,
} from './cert-table.js';
export {
  AMD_OIDS,
  type AmdKeyExtensions,
  type AmdKeyKind,
  parseAmdChain,
  parseAmdKeyExtensions,
  productFromName,
  productOfKeyCert,
} from './certs.js';
export {
  AMD_KDS_BASE,
  type HttpGetter,
  type HttpResponse,
  KdsClient,
  type KdsClientOptions,
  type KdsKeyKind,
  kdsCertChainUrl,
  kdsCrlUrl,
  kdsVcekUrl,
} from './kds.js';
export {
  parseSnpReport,
  SNP_OFFSETS,
  SNP_REPORT_SIZE,
  SNP_SIGNED_LENGTH,
  SNP_SUPPORTED_VERSIONS,
  type SnpCpuid,
  type SnpFirmwareVersion,
  type SnpReport,
  type SnpSignerInfo,
  type SnpSigningKeyKind,
  snpPolicyDebug,
  snpSignedBytes,
} from './report.js';
export {
  decodeTcb,
  encodeTcb,
  productFromCpuid,
  SNP_PRODUCTS,
  type SnpProduct,
  type TcbLayout,
  tcbLayoutOf,
} from './tcb.js';
export {
  type AmdKeyChainOptions,
  type SnpVerifyOptions,
  type VerifiedAmdKey,
  verifyAmdKeyChain,
  verifySnpReport,
} from './verify.js';

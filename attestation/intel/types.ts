import type { X509Certificate } from 'node:crypto';
import type { ParsedCrl } from '../x509.js';
import type { QeIdentity } from './qe-identity.js';
import type { TcbInfo } from './tcb-info.js';

/*
 * The contract between the two halves of the Intel DCAP verifier:
 * - quote side (quote parsing, PCK chain, QE report and quote signatures): `quote.ts`, `pck.ts`,
 *   `verify-quote.ts`;
 * - collateral side (TCB Info, QE Identity, CRLs, their signatures and windows, Intel's TCB status
 *   logic, PCS fetching): `collateral.ts`, `tcb-info.ts`, `qe-identity.ts`, `tcb-status.ts`, `pcs.ts`.
 */

/** Signed JSON collateral: the exact signed text (never re-serialised), its signature, its issuer chain. */
export interface SignedJson {
  /** The exact bytes Intel signed, as text (the `tcbInfo` / `enclaveIdentity` object of a PCS response). */
  readonly text: string;
  /** ECDSA P-256 signature, raw r‖s (64 bytes). */
  readonly signature: Uint8Array;
  /** PEM: TCB Signing certificate, then Intel SGX Root CA. */
  readonly issuerChain: string;
}

/** Collateral for one quote, as delivered (unverified). Same content as dcap-qvl's QuoteCollateralV3. */
export interface IntelCollateral {
  readonly tcbInfo: SignedJson;
  readonly qeIdentity: SignedJson;
  /** DER CRL of the PCK issuing CA (Platform or Processor CA). */
  readonly pckCrl: Uint8Array;
  /** PEM: the PCK CA that issued the CRL, then Intel SGX Root CA. */
  readonly pckCrlIssuerChain: string;
  /** DER CRL of Intel SGX Root CA. */
  readonly rootCaCrl: Uint8Array;
}

/** Values of the Intel SGX PCK certificate extension (OID 1.2.840.113741.1.13.1; Intel PCK Certificate and CRL Profile, §1.3.5). */
export interface PckExtensions {
  /** PPID (16 bytes). */
  readonly ppid: Uint8Array;
  /** CPUSVN (16 bytes) and its 16 components SGXTCBComp01SVN..16SVN. */
  readonly cpuSvn: Uint8Array;
  readonly tcbComponents: readonly number[];
  readonly pceSvn: number;
  /** PCE-ID (2 bytes). */
  readonly pceId: Uint8Array;
  /** FMSPC (6 bytes). */
  readonly fmspc: Uint8Array;
  /** SGX Type: 0 Standard, 1 Scalable, 2 Scalable with Integrity. */
  readonly sgxType: number;
}

/** The SGX REPORT body (384 bytes; Intel SDM vol. 3D, table 38-21 "REPORT"), as used for the QE report and SGX quotes. */
export interface EnclaveReportBody {
  readonly cpuSvn: Uint8Array;
  readonly miscSelect: number;
  readonly attributes: Uint8Array;
  readonly mrEnclave: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly reportData: Uint8Array;
  /** The raw 384 bytes (what the PCK key signs for the QE report). */
  readonly raw: Uint8Array;
}

/** Collateral after its signatures, chains and CRL signatures were checked (time windows checked at `now`). */
export interface VerifiedCollateral {
  /** Parsed TCB Info (shape defined in tcb-info.ts). */
  readonly tcbInfo: TcbInfo;
  /** Parsed QE Identity (shape defined in qe-identity.ts). */
  readonly qeIdentity: QeIdentity;
  readonly pckCrl: ParsedCrl;
  /** The CA certificate that signed the PCK CRL (its subject must be the PCK's issuer). */
  readonly pckCrlIssuer: X509Certificate;
  readonly rootCaCrl: ParsedCrl;
  /** Earliest issueDate/thisUpdate among TCB Info, QE Identity and the CRLs. */
  readonly issuedAt: Date;
}

/**
 * The shapes every verifier produces and every policy consumes. A `Verified*` value exists only after
 * the parse and verify stages passed: the evidence is genuine, its collateral was fresh at `now`, and
 * (Intel) its TCB level was matched. Whether the relying party accepts it is the policy's question
 * (`policy.ts`).
 */
export type TeeType = 'tdx' | 'sgx' | 'sev-snp' | 'simulated';

export const TEE_TYPES: readonly TeeType[] = ['tdx', 'sgx', 'sev-snp', 'simulated'];

/**
 * Intel TCB statuses that survive verification (Revoked and "TCB not supported" are verification
 * failures: TCB_REVOKED, TCB_NOT_SUPPORTED). Names as in Intel's TCB Info JSON.
 */
export type TcbStatus =
  | 'UpToDate'
  | 'SWHardeningNeeded'
  | 'ConfigurationNeeded'
  | 'ConfigurationAndSWHardeningNeeded'
  | 'OutOfDate'
  | 'OutOfDateConfigurationNeeded';

export const TCB_STATUSES: readonly TcbStatus[] = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
];

/** Named measurement registers, raw bytes. Names are the policy's JSON keys (camelCase of the spec names). */
export type Measurements = Readonly<Record<string, Uint8Array>>;

interface VerifiedCommon {
  /** SHA-256 of the raw evidence bytes as presented (what the registry and the log record). */
  readonly evidenceHash: Uint8Array;
  readonly measurements: Measurements;
  /** The 64-byte REPORTDATA / REPORT_DATA field. */
  readonly reportData: Uint8Array;
  /** True when the TEE reports a debug (inspectable) guest or enclave. */
  readonly debug: boolean;
  /**
   * Earliest issue time of the time-varying collateral used (TCB Info, QE Identity, CRLs), for a
   * policy's maximum collateral age. Absent when no such collateral was involved.
   */
  readonly collateralIssuedAt?: Date;
}

export interface VerifiedTdx extends VerifiedCommon {
  readonly tee: 'tdx';
  readonly quoteVersion: 4 | 5;
  readonly tcbStatus: TcbStatus;
  readonly advisoryIds: readonly string[];
  /** Platform Provisioning ID from the PCK certificate (16 bytes). */
  readonly ppid: Uint8Array;
  readonly fmspc: Uint8Array;
  /** TD_ATTRIBUTES (8 bytes, little-endian bit field; TDX ABI table "TDATTRIBUTES"). */
  readonly tdAttributes: Uint8Array;
}

export interface VerifiedSgx extends VerifiedCommon {
  readonly tee: 'sgx';
  readonly quoteVersion: 3;
  readonly tcbStatus: TcbStatus;
  readonly advisoryIds: readonly string[];
  readonly ppid: Uint8Array;
  readonly fmspc: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
}

/** An AMD TCB_VERSION, decoded per product (Turin adds FMC and moves the fields). */
export interface SnpTcb {
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  readonly fmc?: number;
}

export interface VerifiedSnp extends VerifiedCommon {
  readonly tee: 'sev-snp';
  readonly reportVersion: number;
  readonly product: 'Milan' | 'Genoa' | 'Turin';
  readonly signingKey: 'vcek' | 'vlek';
  readonly vmpl: number;
  /** Guest POLICY (64-bit). */
  readonly guestPolicy: bigint;
  readonly guestSvn: number;
  readonly reportedTcb: SnpTcb;
  readonly committedTcb: SnpTcb;
  readonly currentTcb: SnpTcb;
  /** 64-byte CHIP_ID (all zero when the guest masked it). */
  readonly chipId: Uint8Array;
}

export interface VerifiedSimulated extends VerifiedCommon {
  readonly tee: 'simulated';
  /** SHA-256 of the software root's public key that signed the evidence. */
  readonly rootKeyHash: Uint8Array;
}

export type VerifiedEvidence = VerifiedTdx | VerifiedSgx | VerifiedSnp | VerifiedSimulated;

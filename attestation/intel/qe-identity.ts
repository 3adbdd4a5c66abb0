import {
  advisories,
  arr,
  asObject,
  date,
  field,
  hexBytes,
  malformed,
  parseJsonObject,
  status,
  str,
  type TcbInfoStatus,
  uint,
} from './tcb-info.js';

/*
 * Intel QE Identity (Intel PCS API v4, "Enclave Identity V2"): the identity of the Quoting Enclave that
 * signs SGX quotes (id "QE") or TDX quotes (id "TD_QE"). Parsing only; the signature is checked in
 * collateral.ts and the QE report is compared in tcb-status.ts.
 */

export interface QeTcbLevel {
  readonly isvSvn: number;
  readonly tcbDate: Date;
  readonly tcbStatus: TcbInfoStatus;
  readonly advisoryIds: readonly string[];
}

export interface QeIdentity {
  /** "QE" (SGX), "TD_QE" (TDX) or "QVE" (the verification enclave; never accepted for quotes). */
  readonly id: 'QE' | 'TD_QE' | 'QVE';
  readonly version: 2;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly tcbEvaluationDataNumber: number;
  /** 4 bytes each, in REPORT memory order (the hex string read as bytes). */
  readonly miscSelect: Uint8Array;
  readonly miscSelectMask: Uint8Array;
  /** 16 bytes each. */
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  /** 32 bytes. */
  readonly mrSigner: Uint8Array;
  readonly isvProdId: number;
  /** In the order Intel publishes them (highest ISVSVN first). */
  readonly tcbLevels: readonly QeTcbLevel[];
}

/** Parses the signed `enclaveIdentity` object text. Only version 2 exists in PCS API v4. */
export function parseQeIdentity(text: string): QeIdentity {
  const W = 'QE Identity';
  const o = parseJsonObject(text, W);
  const version = uint(o, 'version', W);
  if (version !== 2) malformed(W, `unsupported version ${version}`);
  const id = str(o, 'id', W);
  if (id !== 'QE' && id !== 'TD_QE' && id !== 'QVE') malformed(W, `unknown id "${id}"`);
  const levels = arr(o, 'tcbLevels', W);
  if (levels.length === 0) malformed(W, 'tcbLevels is empty');
  return {
    id,
    version,
    issueDate: date(o, 'issueDate', W),
    nextUpdate: date(o, 'nextUpdate', W),
    tcbEvaluationDataNumber: uint(o, 'tcbEvaluationDataNumber', W),
    miscSelect: hexBytes(o, 'miscselect', W, 4),
    miscSelectMask: hexBytes(o, 'miscselectMask', W, 4),
    attributes: hexBytes(o, 'attributes', W, 16),
    attributesMask: hexBytes(o, 'attributesMask', W, 16),
    mrSigner: hexBytes(o, 'mrsigner', W, 32),
    isvProdId: uint(o, 'isvprodid', W, 0xffff),
    tcbLevels: levels.map((l, i) => {
      const w = `${W} tcbLevels[${i}]`;
      const lo = asObject(l, w);
      return {
        isvSvn: uint(asObject(field(lo, 'tcb', w), `${w} tcb`), 'isvsvn', `${w} tcb`, 0xffff),
        tcbDate: date(lo, 'tcbDate', w),
        tcbStatus: status(lo, 'tcbStatus', w),
        advisoryIds: advisories(lo, w),
      };
    }),
  };
}

import { ByteReader, bytesEqual, toHex } from '../bytes.js';
import { fail } from '../errors.js';
import type { EnclaveReportBody } from './types.js';

/*
 * Parse stage of Intel DCAP quotes: bytes → struct, bounds-checked, no cryptography.
 *
 * Specifications (comments below cite their tables by title; the numbering of the tables differs
 * between revisions of the PDFs, the titles do not):
 * - [TDX] "Intel TDX DCAP Quote Generation Library and Quote Verification Library" (Intel TDX DCAP
 *   Quoting Library API), appendix "Quote Format": tables "Quote Format" (v4), "Quote Header",
 *   "TD Quote Body", "Quote Signature Data Structure", "Certification Data", "QE Report Certification
 *   Data", "QE Authentication Data"; for v5 (TDX 1.5) "Quote Format (v5)" and "TD Quote Body
 *   Descriptor" (type 2 = TD 1.0 body, 584 bytes; type 3 = TD 1.5 body, 648 bytes: the TD 1.0 body
 *   followed by TEE_TCB_SVN2 and MRSERVICETD).
 * - [SGX] "Intel SGX ECDSA QuoteLibReference DCAP API", appendix A "ECDSA Quote Format v3": tables
 *   "Quote Format", "Quote Header", "ISV Enclave Report Body" (= Intel SDM vol. 3D table 38-21 REPORT,
 *   its first 384 bytes), "ECDSA 256-bit Quote Signature Data Structure", "QE Authentication Data",
 *   "QE Certification Data".
 *
 * Header fields that are not checked here (user data, the reserved/SVN words) are
 * covered by the quote signature; the reserved fields of the enclave report body carry KSS values
 * (ISVEXTPRODID, CONFIGID, CONFIGSVN, ISVFAMILYID) on newer CPUs, so no "must be zero" rule
 * applies to them either.
 */

/** Attestation key type 2 = ECDSA-256-with-P-256 curve ([TDX]/[SGX] "Quote Header"). */
export const ATT_KEY_TYPE_ECDSA_P256 = 2;
/** TEE type ([TDX] "Quote Header"): 0x00000000 SGX, 0x00000081 TDX. */
export const TEE_TYPE_SGX = 0x00;
export const TEE_TYPE_TDX = 0x81;
/**
 * QE Vendor ID of Intel's Quoting Enclaves, 939A7233-F79C-4CA9-940A-0DB3957F0607 ([TDX]/[SGX]
 * "Quote Header": "Intel SGX QE Vendor"). The only QEs whose identity Intel publishes.
 */
export const INTEL_QE_VENDOR_ID = Uint8Array.from([
  0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
]);
/** Certification data types ([TDX] "Certification Data", [SGX] "QE Certification Data"). */
export const CERT_DATA_PCK_CHAIN = 5;
export const CERT_DATA_QE_REPORT = 6;
/** v5 body descriptor types ([TDX] "TD Quote Body Descriptor"). */
export const BODY_TYPE_TD10 = 2;
export const BODY_TYPE_TD15 = 3;

const HEADER_SIZE = 48;
const ENCLAVE_REPORT_SIZE = 384;
const TD10_BODY_SIZE = 584;
const TD15_BODY_SIZE = 648;

export interface QuoteHeader {
  readonly version: 3 | 4 | 5;
  readonly attestationKeyType: number;
  /** Raw TEE type word (0x00 SGX, 0x81 TDX). */
  readonly teeType: number;
  /** QE SVN and PCE SVN ([TDX]/[SGX] "Quote Header"; TD quotes carry zero here). */
  readonly qeSvn: number;
  readonly pceSvn: number;
  readonly qeVendorId: Uint8Array;
  readonly userData: Uint8Array;
}

/** TD quote body ([TDX] "TD Quote Body"; the v5 TD 1.5 body adds the last two fields). */
export interface TdReportBody {
  readonly teeTcbSvn: Uint8Array;
  readonly mrSeam: Uint8Array;
  readonly mrSignerSeam: Uint8Array;
  readonly seamAttributes: Uint8Array;
  readonly tdAttributes: Uint8Array;
  readonly xfam: Uint8Array;
  readonly mrTd: Uint8Array;
  readonly mrConfigId: Uint8Array;
  readonly mrOwner: Uint8Array;
  readonly mrOwnerConfig: Uint8Array;
  readonly rtmr: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  readonly reportData: Uint8Array;
  /** TD 1.5 only. */
  readonly teeTcbSvn2?: Uint8Array;
  /** TD 1.5 only. */
  readonly mrServiceTd?: Uint8Array;
}

/** Offsets of each part within the raw quote (for diagnostics, tests and mutation tooling). */
export interface QuoteLayout {
  readonly bodyOffset: number;
  readonly signatureDataLenOffset: number;
  readonly signatureDataOffset: number;
  readonly signatureOffset: number;
  readonly attestationKeyOffset: number;
  /** Start of the outer certification data header (v4/v5 only; type 6). */
  readonly outerCertDataOffset?: number;
  readonly qeReportOffset: number;
  readonly qeReportSignatureOffset: number;
  readonly qeAuthDataOffset: number;
  /** Start of the PCK certification data header (type 5). */
  readonly pckCertDataOffset: number;
  readonly pckChainOffset: number;
  /** End of the signature data: everything after it is trailing. */
  readonly end: number;
}

interface QuoteCommon {
  /** The input exactly as given. */
  readonly raw: Uint8Array;
  readonly header: QuoteHeader;
  /** Header ‖ (v5: body descriptor) ‖ body: the bytes the attestation key signs. */
  readonly signedData: Uint8Array;
  /** ECDSA P-256 signature over `signedData`, raw r‖s. */
  readonly signature: Uint8Array;
  /** Attestation public key, raw x‖y (64 bytes). */
  readonly attestationKey: Uint8Array;
  readonly qeReport: EnclaveReportBody;
  /** ECDSA P-256 signature by the PCK key over the 384 QE report bytes, raw r‖s. */
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  /** Outer certification data type: 6 for v4/v5, 5 for v3. */
  readonly certDataType: number;
  /** The PEM bytes of the PCK certificate chain (type 5 certification data), as carried. */
  readonly pckCertChain: Uint8Array;
  /** Bytes after the signature data (zero padding of fixed-size buffers, test suffixes); not signed. */
  readonly trailing: Uint8Array;
  readonly layout: QuoteLayout;
}

export interface SgxQuote extends QuoteCommon {
  readonly tee: 'sgx';
  readonly version: 3;
  readonly body: EnclaveReportBody;
}

export interface TdxQuote extends QuoteCommon {
  readonly tee: 'tdx';
  readonly version: 4 | 5;
  /** v5 body descriptor type (2 = TD 1.0, 3 = TD 1.5); 2 for v4. */
  readonly bodyType: 2 | 3;
  readonly body: TdReportBody;
}

export type IntelQuote = SgxQuote | TdxQuote;

/** Parses an SGX v3 or TDX v4/v5 ECDSA-P256 quote. Throws AttestationError (kind `malformed`). */
export function parseQuote(raw: Uint8Array): IntelQuote {
  const r = new ByteReader(raw, 'QUOTE_TRUNCATED');
  const header = parseHeader(r);
  const bodyOffset = r.offset;

  let bodyType: 2 | 3 = BODY_TYPE_TD10;
  let sgxBody: EnclaveReportBody | undefined;
  let tdBody: TdReportBody | undefined;
  if (header.version === 3) {
    sgxBody = parseEnclaveReport(r, 'ISV enclave report body');
  } else {
    if (header.version === 5) {
      // [TDX] "TD Quote Body Descriptor": type (2 bytes), size (4 bytes), then the body.
      const type = r.u16('body descriptor type');
      const size = r.u32('body descriptor size');
      if (type !== BODY_TYPE_TD10 && type !== BODY_TYPE_TD15) {
        fail(
          'QUOTE_BAD_FIELD',
          `quote v5 body type ${type} is not a TD report body (2 = TD 1.0, 3 = TD 1.5)`,
          {
            field: 'bodyType',
            value: type,
          },
        );
      }
      const want = type === BODY_TYPE_TD10 ? TD10_BODY_SIZE : TD15_BODY_SIZE;
      if (size !== want) {
        fail('QUOTE_BAD_FIELD', `quote v5 body type ${type} must be ${want} bytes, descriptor says ${size}`, {
          field: 'bodySize',
          value: size,
          expected: want,
        });
      }
      bodyType = type;
    }
    tdBody = parseTdBody(r, bodyType === BODY_TYPE_TD15);
  }
  const signedEnd = r.offset;

  // [TDX]/[SGX] "Quote Format": Quote Signature Data Len (4 bytes), then the signature data.
  const signatureDataLenOffset = r.offset;
  const sigLen = r.u32('quote signature data length');
  const signatureDataOffset = r.offset;
  r.need(sigLen, 'quote signature data');
  const end = signatureDataOffset + sigLen;
  const s = new ByteReader(raw.subarray(0, end), 'QUOTE_TRUNCATED', signatureDataOffset);

  // [TDX]/[SGX] "Quote Signature Data Structure": ECDSA signature (64), ECDSA attestation key (64).
  const signatureOffset = s.offset;
  const signature = s.bytes(64, 'quote signature');
  const attestationKeyOffset = s.offset;
  const attestationKey = s.bytes(64, 'attestation public key');

  let outerCertDataOffset: number | undefined;
  let certDataType: number;
  let qe: ReturnType<typeof parseQeReportCertData>;
  if (header.version === 3) {
    // [SGX] "Quote Signature Data Structure": QE report (384), its signature (64), QE auth data, QE certification data.
    qe = parseQeReportCertData(s, end);
    certDataType = qe.pckCertDataType;
  } else {
    // [TDX] "Quote Signature Data Structure": "Certification Data" of type 6, "QE Report Certification Data".
    outerCertDataOffset = s.offset;
    certDataType = s.u16('certification data type');
    const size = s.u32('certification data size');
    if (certDataType !== CERT_DATA_QE_REPORT) {
      fail(
        'QUOTE_UNSUPPORTED_CERT_DATA',
        `certification data type ${certDataType} is not supported (expected 6)`,
        {
          certDataType,
        },
      );
    }
    s.need(size, 'QE report certification data');
    const innerEnd = s.offset + size;
    qe = parseQeReportCertData(s, innerEnd);
    if (s.offset !== innerEnd) {
      fail('QUOTE_BAD_FIELD', `QE report certification data has ${innerEnd - s.offset} unaccounted bytes`, {
        field: 'certificationDataSize',
      });
    }
  }
  if (s.offset !== end) {
    fail('QUOTE_BAD_FIELD', `quote signature data has ${end - s.offset} bytes after the certification data`, {
      field: 'signatureDataLength',
    });
  }

  const common = {
    raw,
    header,
    signedData: raw.subarray(0, signedEnd),
    signature,
    attestationKey,
    qeReport: qe.qeReport,
    qeReportSignature: qe.qeReportSignature,
    qeAuthData: qe.qeAuthData,
    certDataType,
    pckCertChain: qe.pckCertChain,
    trailing: raw.subarray(end),
    layout: {
      bodyOffset,
      signatureDataLenOffset,
      signatureDataOffset,
      signatureOffset,
      attestationKeyOffset,
      ...(outerCertDataOffset === undefined ? {} : { outerCertDataOffset }),
      qeReportOffset: qe.offsets.qeReport,
      qeReportSignatureOffset: qe.offsets.qeReportSignature,
      qeAuthDataOffset: qe.offsets.qeAuthData,
      pckCertDataOffset: qe.offsets.pckCertData,
      pckChainOffset: qe.offsets.pckChain,
      end,
    },
  };
  if (sgxBody) return { ...common, tee: 'sgx', version: 3, body: sgxBody };
  return { ...common, tee: 'tdx', version: header.version as 4 | 5, bodyType, body: tdBody! };
}

function parseHeader(r: ByteReader): QuoteHeader {
  // [TDX]/[SGX] "Quote Header", 48 bytes.
  r.need(HEADER_SIZE, 'quote header');
  const version = r.u16('header version'); // offset 0
  const attestationKeyType = r.u16('attestation key type'); // offset 2
  const teeType = r.u32('TEE type'); // offset 4 ([SGX] v3: reserved, zero = SGX)
  const qeSvn = r.u16('header QE SVN / reserved'); // offset 8
  const pceSvn = r.u16('header PCE SVN / reserved'); // offset 10
  const qeVendorId = r.bytes(16, 'QE vendor id'); // offset 12
  const userData = r.bytes(20, 'user data'); // offset 28

  if (version !== 3 && version !== 4 && version !== 5) {
    fail('QUOTE_UNSUPPORTED_VERSION', `quote version ${version} is not supported (3 SGX, 4/5 TDX)`, {
      version,
    });
  }
  if (attestationKeyType !== ATT_KEY_TYPE_ECDSA_P256) {
    fail('QUOTE_UNSUPPORTED_KEY_TYPE', `attestation key type ${attestationKeyType} is not ECDSA-P256 (2)`, {
      attestationKeyType,
    });
  }
  if (teeType !== TEE_TYPE_SGX && teeType !== TEE_TYPE_TDX) {
    fail(
      'QUOTE_UNSUPPORTED_TEE_TYPE',
      `TEE type 0x${teeType.toString(16)} is neither SGX (0x00) nor TDX (0x81)`,
      {
        teeType,
      },
    );
  }
  // SGX quotes are supported as v3, TDX quotes as v4/v5 (v3 predates TDX; SGX v4/v5 are not produced by this stack).
  if ((teeType === TEE_TYPE_SGX) !== (version === 3)) {
    fail(
      'QUOTE_UNSUPPORTED_VERSION',
      `quote version ${version} is not supported for TEE type 0x${teeType.toString(16)}`,
      {
        version,
        teeType,
      },
    );
  }
  if (!bytesEqual(qeVendorId, INTEL_QE_VENDOR_ID)) {
    fail(
      'QUOTE_BAD_FIELD',
      `QE vendor id ${toHex(qeVendorId)} is not Intel's (${toHex(INTEL_QE_VENDOR_ID)})`,
      {
        field: 'qeVendorId',
      },
    );
  }
  return { version, attestationKeyType, teeType, qeSvn, pceSvn, qeVendorId, userData };
}

/** The 384-byte SGX REPORT body ([SGX] "ISV Enclave Report Body"; Intel SDM vol. 3D table 38-21). */
export function parseEnclaveReport(r: ByteReader, what: string): EnclaveReportBody {
  r.need(ENCLAVE_REPORT_SIZE, what);
  const start = r.offset;
  const raw = r.buf.slice(start, start + ENCLAVE_REPORT_SIZE);
  const cpuSvn = r.bytes(16, `${what} CPUSVN`); // 0
  const miscSelect = r.u32(`${what} MISCSELECT`); // 16
  r.offset += 28; // 20: reserved (ISVEXTPRODID at 32 with KSS)
  const attributes = r.bytes(16, `${what} ATTRIBUTES`); // 48
  const mrEnclave = r.bytes(32, `${what} MRENCLAVE`); // 64
  r.offset += 32; // 96: reserved
  const mrSigner = r.bytes(32, `${what} MRSIGNER`); // 128
  r.offset += 96; // 160: reserved (CONFIGID at 192 with KSS)
  const isvProdId = r.u16(`${what} ISVPRODID`); // 256
  const isvSvn = r.u16(`${what} ISVSVN`); // 258
  r.offset += 60; // 260: reserved (CONFIGSVN at 260, ISVFAMILYID at 304 with KSS)
  const reportData = r.bytes(64, `${what} REPORTDATA`); // 320
  return { cpuSvn, miscSelect, attributes, mrEnclave, mrSigner, isvProdId, isvSvn, reportData, raw };
}

function parseTdBody(r: ByteReader, td15: boolean): TdReportBody {
  // [TDX] "TD Quote Body" (TD 1.0, 584 bytes); v5 TD 1.5 appends TEE_TCB_SVN2 (16) and MRSERVICETD (48).
  r.need(td15 ? TD15_BODY_SIZE : TD10_BODY_SIZE, 'TD quote body');
  const teeTcbSvn = r.bytes(16, 'TEE_TCB_SVN'); // 0
  const mrSeam = r.bytes(48, 'MRSEAM'); // 16
  const mrSignerSeam = r.bytes(48, 'MRSIGNERSEAM'); // 64
  const seamAttributes = r.bytes(8, 'SEAMATTRIBUTES'); // 112
  const tdAttributes = r.bytes(8, 'TDATTRIBUTES'); // 120
  const xfam = r.bytes(8, 'XFAM'); // 128
  const mrTd = r.bytes(48, 'MRTD'); // 136
  const mrConfigId = r.bytes(48, 'MRCONFIGID'); // 184
  const mrOwner = r.bytes(48, 'MROWNER'); // 232
  const mrOwnerConfig = r.bytes(48, 'MROWNERCONFIG'); // 280
  const rtmr = [
    r.bytes(48, 'RTMR0'),
    r.bytes(48, 'RTMR1'),
    r.bytes(48, 'RTMR2'),
    r.bytes(48, 'RTMR3'),
  ] as const; // 328
  const reportData = r.bytes(64, 'REPORTDATA'); // 520
  const body = {
    teeTcbSvn,
    mrSeam,
    mrSignerSeam,
    seamAttributes,
    tdAttributes,
    xfam,
    mrTd,
    mrConfigId,
    mrOwner,
    mrOwnerConfig,
    rtmr,
    reportData,
  };
  if (!td15) return body;
  const teeTcbSvn2 = r.bytes(16, 'TEE_TCB_SVN2'); // 584
  const mrServiceTd = r.bytes(48, 'MRSERVICETD'); // 600
  return { ...body, teeTcbSvn2, mrServiceTd };
}

/**
 * QE report, its signature, QE authentication data and the PCK certification data:
 * [TDX] "QE Report Certification Data" (inside certification data type 6) and [SGX] "Quote Signature
 * Data Structure" (inline in v3).
 */
function parseQeReportCertData(s: ByteReader, end: number) {
  const qeReportOffset = s.offset;
  const qeReport = parseEnclaveReport(s, 'QE report');
  const qeReportSignatureOffset = s.offset;
  const qeReportSignature = s.bytes(64, 'QE report signature');
  // [TDX]/[SGX] "QE Authentication Data": size (2 bytes), data.
  const qeAuthDataOffset = s.offset;
  const authLen = s.u16('QE authentication data size');
  const qeAuthData = s.bytes(authLen, 'QE authentication data');
  // [TDX] "Certification Data" / [SGX] "QE Certification Data": type (2), size (4), data.
  const pckCertDataOffset = s.offset;
  const pckCertDataType = s.u16('PCK certification data type');
  const size = s.u32('PCK certification data size');
  if (pckCertDataType !== CERT_DATA_PCK_CHAIN) {
    fail(
      'QUOTE_UNSUPPORTED_CERT_DATA',
      `PCK certification data type ${pckCertDataType} is not supported (expected 5, PCK certificate chain)`,
      { certDataType: pckCertDataType },
    );
  }
  if (s.offset + size > end) {
    fail('QUOTE_TRUNCATED', `PCK certificate chain of ${size} bytes runs past its container`, {
      what: 'PCK certificate chain',
      offset: s.offset,
      need: size,
      have: end - s.offset,
    });
  }
  const pckChainOffset = s.offset;
  const pckCertChain = s.bytes(size, 'PCK certificate chain');
  return {
    qeReport,
    qeReportSignature,
    qeAuthData,
    pckCertDataType,
    pckCertChain,
    offsets: {
      qeReport: qeReportOffset,
      qeReportSignature: qeReportSignatureOffset,
      qeAuthData: qeAuthDataOffset,
      pckCertData: pckCertDataOffset,
      pckChain: pckChainOffset,
    },
  };
}

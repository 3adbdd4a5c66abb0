import { fail } from '../errors.js';
import type { SnpTcb } from '../evidence.js';
import { decodeTcb, productFromCpuid, type SnpProduct, type TcbLayout } from './tcb.js';

/*
 * Parse stage of the AMD SEV-SNP ATTESTATION_REPORT: bytes → struct, bounds- and reserved-checked, no
 * crypto. Layout: SEV Secure Nested Paging Firmware ABI Specification #56860 (rev. 1.58), table
 * "ATTESTATION_REPORT Structure" (table 23 in rev. 1.55+; offsets below are that table's). All integers
 * are little-endian. Versions 2 (firmware < 1.55), 3 (adds CPUID_FAM_ID/MOD_ID/STEP) and 5 (adds
 * LAUNCH_MIT_VECTOR/CURRENT_MIT_VECTOR) are accepted; the layout is the same for all three, later
 * versions only give meaning to bytes that earlier versions reserve.
 */

/** Size of the ATTESTATION_REPORT structure (table 23: 0x000..0x49F). */
export const SNP_REPORT_SIZE = 0x4a0;
/** The signature covers bytes [0, 0x2A0) (table 23, SIGNATURE: "over bytes 0h to 29Fh"). */
export const SNP_SIGNED_LENGTH = 0x2a0;
export const SNP_SUPPORTED_VERSIONS: readonly number[] = [2, 3, 5];
/** SIGNATURE_ALGO 1 = ECDSA P-384 with SHA-384 (#56860 table "Signature Algorithm Encodings"). */
export const SNP_SIG_ALGO_ECDSA_P384_SHA384 = 1;

/** Field offsets, #56860 table 23. */
export const SNP_OFFSETS = {
  VERSION: 0x000,
  GUEST_SVN: 0x004,
  POLICY: 0x008,
  FAMILY_ID: 0x010,
  IMAGE_ID: 0x020,
  VMPL: 0x030,
  SIGNATURE_ALGO: 0x034,
  CURRENT_TCB: 0x038,
  PLATFORM_INFO: 0x040,
  SIGNER_INFO: 0x048,
  RESERVED_04C: 0x04c,
  REPORT_DATA: 0x050,
  MEASUREMENT: 0x090,
  HOST_DATA: 0x0c0,
  ID_KEY_DIGEST: 0x0e0,
  AUTHOR_KEY_DIGEST: 0x110,
  REPORT_ID: 0x140,
  REPORT_ID_MA: 0x160,
  REPORTED_TCB: 0x180,
  CPUID_FAM_ID: 0x188,
  CPUID_MOD_ID: 0x189,
  CPUID_STEP: 0x18a,
  RESERVED_18B: 0x18b,
  CHIP_ID: 0x1a0,
  COMMITTED_TCB: 0x1e0,
  CURRENT_BUILD: 0x1e8,
  CURRENT_MINOR: 0x1e9,
  CURRENT_MAJOR: 0x1ea,
  RESERVED_1EB: 0x1eb,
  COMMITTED_BUILD: 0x1ec,
  COMMITTED_MINOR: 0x1ed,
  COMMITTED_MAJOR: 0x1ee,
  RESERVED_1EF: 0x1ef,
  LAUNCH_TCB: 0x1f0,
  LAUNCH_MIT_VECTOR: 0x1f8,
  CURRENT_MIT_VECTOR: 0x200,
  RESERVED_208: 0x208,
  SIGNATURE: 0x2a0,
} as const;

/**
 * Signature layout inside the 512-byte SIGNATURE field (#56860 table "ECDSA P-384 with SHA-384
 * Signature"): R at 0x00 and S at 0x48, each 72 bytes little-endian of which only the low 48 carry
 * the P-384 scalar; the upper 24 bytes of each and bytes 0x90..0x1FF are reserved (zero).
 */
const SIG_R = 0x00;
const SIG_S = 0x48;
const SIG_COMPONENT = 72;
const P384_SCALAR = 48;
const SIG_USED = 0x90;

/** GUEST POLICY bits (#56860 table "Guest Policy Structure"). */
export const SNP_POLICY = {
  SMT: 16n,
  /** Bit 17 is reserved and must be one. */
  RESERVED_MBO: 17n,
  MIGRATE_MA: 18n,
  DEBUG: 19n,
  SINGLE_SOCKET: 20n,
  CXL_ALLOW: 21n,
  MEM_AES_256_XTS: 22n,
  RAPL_DIS: 23n,
  CIPHERTEXT_HIDING: 24n,
  PAGE_SWAP_DISABLE: 25n,
  /** Bits 26..63 are reserved, must be zero (rev. 1.58). */
  FIRST_RESERVED: 26n,
} as const;

export type SnpSigningKeyKind = 'vcek' | 'vlek' | 'none';

/** SIGNER_INFO (offset 0x48, #56860 table 23): bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY, 31:5 reserved. */
export interface SnpSignerInfo {
  readonly authorKeyEn: boolean;
  readonly maskChipKey: boolean;
  /** SIGNING_KEY: 0 VCEK, 1 VLEK, 7 none (unsigned report). */
  readonly signingKey: SnpSigningKeyKind;
}

export interface SnpFirmwareVersion {
  readonly major: number;
  readonly minor: number;
  readonly build: number;
}

export interface SnpCpuid {
  readonly family: number;
  readonly model: number;
  readonly stepping: number;
}

/** A parsed ATTESTATION_REPORT. Byte fields are copies; `raw` is a copy of the 1184 input bytes. */
export interface SnpReport {
  readonly raw: Uint8Array;
  readonly version: 2 | 3 | 5;
  readonly guestSvn: number;
  readonly policy: bigint;
  readonly familyId: Uint8Array;
  readonly imageId: Uint8Array;
  readonly vmpl: number;
  readonly signatureAlgo: number;
  readonly platformInfo: bigint;
  readonly signerInfo: SnpSignerInfo;
  readonly reportData: Uint8Array;
  readonly measurement: Uint8Array;
  readonly hostData: Uint8Array;
  readonly idKeyDigest: Uint8Array;
  readonly authorKeyDigest: Uint8Array;
  readonly reportId: Uint8Array;
  readonly reportIdMa: Uint8Array;
  /** CPUID fields (v3+ only). */
  readonly cpuid?: SnpCpuid;
  /** The product the CPUID fields name (v3+); for v2 the VCEK/VLEK decides at verification. */
  readonly cpuidProduct?: SnpProduct;
  /** Layout the TCB fields were decoded with: from the CPUID product (v3+), Milan/Genoa for v2. */
  readonly tcbLayout: TcbLayout;
  readonly currentTcb: SnpTcb;
  readonly reportedTcb: SnpTcb;
  readonly committedTcb: SnpTcb;
  readonly launchTcb: SnpTcb;
  /** The 8 raw bytes of REPORTED_TCB (what the VCEK is issued for). */
  readonly reportedTcbRaw: Uint8Array;
  readonly chipId: Uint8Array;
  readonly currentVersion: SnpFirmwareVersion;
  readonly committedVersion: SnpFirmwareVersion;
  /** v5 only. */
  readonly launchMitVector?: bigint;
  readonly currentMitVector?: bigint;
  /** R and S as 48-byte big-endian P-384 scalars. */
  readonly signature: { readonly r: Uint8Array; readonly s: Uint8Array };
}

function reservedZero(b: Uint8Array, lo: number, hi: number, field: string): void {
  for (let i = lo; i < hi; i++) {
    if (b[i] !== 0) {
      fail(
        'SNP_RESERVED_NONZERO',
        `SEV-SNP report: ${field} (0x${lo.toString(16)}..0x${(hi - 1).toString(16)}) is not zero at 0x${i.toString(16)}`,
        {
          field,
          offset: i,
          value: b[i],
        },
      );
    }
  }
}

function badField(field: string, offset: number, message: string, value?: unknown): never {
  return fail('SNP_BAD_FIELD', `SEV-SNP report: ${field} at 0x${offset.toString(16)}: ${message}`, {
    field,
    offset,
    ...(value !== undefined && { value: typeof value === 'bigint' ? `0x${value.toString(16)}` : value }),
  });
}

/** Little-endian bytes → big-endian copy. */
function reversed(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b[b.length - 1 - i]!;
  return out;
}

function signingKeyOf(code: number): SnpSigningKeyKind | undefined {
  if (code === 0) return 'vcek';
  if (code === 1) return 'vlek';
  if (code === 7) return 'none';
  return undefined;
}

/**
 * Parses an SEV-SNP ATTESTATION_REPORT. Throws AttestationError: SNP_REPORT_TRUNCATED (shorter than
 * 0x4A0), SNP_BAD_FIELD (longer than 0x4A0, or a field with a value the spec does not allow),
 * SNP_UNSUPPORTED_VERSION, SNP_RESERVED_NONZERO (with the offset).
 */
export function parseSnpReport(input: Uint8Array): SnpReport {
  if (!(input instanceof Uint8Array)) fail('INVALID_ARGUMENT', 'SEV-SNP report must be a Uint8Array');
  if (input.length < SNP_REPORT_SIZE) {
    fail(
      'SNP_REPORT_TRUNCATED',
      `SEV-SNP report is ${input.length} bytes, the structure is ${SNP_REPORT_SIZE}`,
      {
        length: input.length,
        need: SNP_REPORT_SIZE,
      },
    );
  }
  // Trailing bytes are refused: the report is a fixed-size structure and whatever follows it (an
  // Azure HCL envelope, a certificate table) is not covered by the signature; callers slice first.
  if (input.length > SNP_REPORT_SIZE) {
    fail(
      'SNP_BAD_FIELD',
      `SEV-SNP report has ${input.length - SNP_REPORT_SIZE} bytes after the 0x4A0-byte structure`,
      {
        field: 'length',
        length: input.length,
        offset: SNP_REPORT_SIZE,
      },
    );
  }
  const b = input.slice();
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u32 = (o: number) => dv.getUint32(o, true);
  const u64 = (o: number) => dv.getBigUint64(o, true);
  const bytes = (o: number, n: number) => b.slice(o, o + n);
  const O = SNP_OFFSETS;

  // 0x00 VERSION
  const version = u32(O.VERSION);
  if (!SNP_SUPPORTED_VERSIONS.includes(version)) {
    fail('SNP_UNSUPPORTED_VERSION', `SEV-SNP report version ${version} is not supported (2, 3, 5)`, {
      version,
      offset: O.VERSION,
    });
  }

  // 0x08 POLICY (table "Guest Policy Structure"): bit 17 must be one, bits 26..63 must be zero.
  const policy = u64(O.POLICY);
  if (((policy >> SNP_POLICY.RESERVED_MBO) & 1n) !== 1n) {
    badField('POLICY', O.POLICY, 'reserved bit 17 must be one', policy);
  }
  if (policy >> SNP_POLICY.FIRST_RESERVED !== 0n) {
    // Report the first non-zero reserved byte.
    const firstByte = Number(SNP_POLICY.FIRST_RESERVED / 8n);
    let at = O.POLICY + firstByte;
    for (let i = firstByte; i < 8; i++) {
      const mask = i === firstByte ? 0xff & ~((1 << Number(SNP_POLICY.FIRST_RESERVED % 8n)) - 1) : 0xff;
      if ((b[O.POLICY + i]! & mask) !== 0) {
        at = O.POLICY + i;
        break;
      }
    }
    fail(
      'SNP_RESERVED_NONZERO',
      `SEV-SNP report: POLICY reserved bits 63:26 are not zero (0x${policy.toString(16)})`,
      {
        field: 'POLICY',
        offset: at,
        value: `0x${policy.toString(16)}`,
      },
    );
  }

  // 0x30 VMPL: 0..3 for a guest request. 0xFFFFFFFF marks a report the hypervisor requested
  // (SNP_HV_REPORT_REQ): its REPORT_DATA was not chosen by the guest, so it cannot bind a guest key.
  const vmpl = u32(O.VMPL);
  if (vmpl > 3) badField('VMPL', O.VMPL, `VMPL ${vmpl} is not 0..3`, vmpl);

  // 0x34 SIGNATURE_ALGO
  const signatureAlgo = u32(O.SIGNATURE_ALGO);
  if (signatureAlgo !== SNP_SIG_ALGO_ECDSA_P384_SHA384) {
    badField(
      'SIGNATURE_ALGO',
      O.SIGNATURE_ALGO,
      `algorithm ${signatureAlgo} is not 1 (ECDSA P-384 with SHA-384)`,
      signatureAlgo,
    );
  }

  // 0x40 PLATFORM_INFO: informational bits (SMT_EN, TSME_EN, ECC_EN, RAPL_DIS, CIPHERTEXT_HIDING_EN,
  // ALIAS_CHECK_COMPLETE, ...). Each firmware revision defines new ones (real Turin reports set bit 6),
  // so undefined bits are carried, not refused; a policy may inspect them.
  const platformInfo = u64(O.PLATFORM_INFO);

  // 0x48 SIGNER_INFO, 0x4C reserved
  const signerInfoWord = u32(O.SIGNER_INFO);
  if (signerInfoWord >>> 5 !== 0) {
    const firstNonZero =
      [0, 1, 2, 3].find((i) => (b[O.SIGNER_INFO + i]! & (i === 0 ? 0xe0 : 0xff)) !== 0) ?? 0;
    fail(
      'SNP_RESERVED_NONZERO',
      `SEV-SNP report: SIGNER_INFO reserved bits 31:5 are not zero (0x${signerInfoWord.toString(16)})`,
      {
        field: 'SIGNER_INFO',
        offset: O.SIGNER_INFO + firstNonZero,
        value: signerInfoWord,
      },
    );
  }
  const signingKeyCode = (signerInfoWord >>> 2) & 0x7;
  const signingKey = signingKeyOf(signingKeyCode);
  if (!signingKey)
    badField(
      'SIGNER_INFO',
      O.SIGNER_INFO,
      `SIGNING_KEY ${signingKeyCode} is not 0 (VCEK), 1 (VLEK) or 7 (none)`,
      signingKeyCode,
    );
  reservedZero(b, O.RESERVED_04C, O.REPORT_DATA, 'reserved 0x4C');

  // 0x188 CPUID_FAM_ID / CPUID_MOD_ID / CPUID_STEP (v3+; reserved in v2), 0x18B..0x19F reserved.
  let cpuid: SnpCpuid | undefined;
  let cpuidProduct: SnpProduct | undefined;
  if (version === 2) {
    reservedZero(b, O.CPUID_FAM_ID, O.CHIP_ID, 'reserved 0x188 (v2)');
  } else {
    cpuid = { family: b[O.CPUID_FAM_ID]!, model: b[O.CPUID_MOD_ID]!, stepping: b[O.CPUID_STEP]! };
    reservedZero(b, O.RESERVED_18B, O.CHIP_ID, 'reserved 0x18B');
    cpuidProduct = productFromCpuid(cpuid.family, cpuid.model);
    if (!cpuidProduct) {
      badField(
        'CPUID_FAM_ID',
        O.CPUID_FAM_ID,
        `family 0x${cpuid.family.toString(16)} model 0x${cpuid.model.toString(16)} is not a known SEV-SNP product (Milan, Genoa, Turin)`,
        { family: cpuid.family, model: cpuid.model },
      );
    }
  }
  // v2 reports predate Turin (Turin firmware emits v3+ with CPUID), so they use the Milan/Genoa layout.
  const tcbLayout: TcbLayout = cpuidProduct === 'Turin' ? 'turin' : 'milan-genoa';
  const tcb = (o: number, name: string) => decodeTcb(bytes(o, 8), tcbLayout, name, o);

  // 0x1E8..0x1EF firmware versions with reserved bytes 0x1EB and 0x1EF.
  reservedZero(b, O.RESERVED_1EB, O.COMMITTED_BUILD, 'reserved 0x1EB');
  reservedZero(b, O.RESERVED_1EF, O.LAUNCH_TCB, 'reserved 0x1EF');

  // 0x1F8 LAUNCH_MIT_VECTOR, 0x200 CURRENT_MIT_VECTOR (v5; reserved before), 0x208..0x29F reserved.
  let launchMitVector: bigint | undefined;
  let currentMitVector: bigint | undefined;
  if (version >= 5) {
    launchMitVector = u64(O.LAUNCH_MIT_VECTOR);
    currentMitVector = u64(O.CURRENT_MIT_VECTOR);
    reservedZero(b, O.RESERVED_208, O.SIGNATURE, 'reserved 0x208');
  } else {
    reservedZero(b, O.LAUNCH_MIT_VECTOR, O.SIGNATURE, 'reserved 0x1F8');
  }

  // 0x2A0 SIGNATURE: R (72 bytes LE), S (72 bytes LE), the upper 24 bytes of each zero, then zero to 0x49F.
  const sig = O.SIGNATURE;
  reservedZero(b, sig + SIG_R + P384_SCALAR, sig + SIG_R + SIG_COMPONENT, 'SIGNATURE.R upper bytes');
  reservedZero(b, sig + SIG_S + P384_SCALAR, sig + SIG_S + SIG_COMPONENT, 'SIGNATURE.S upper bytes');
  reservedZero(b, sig + SIG_USED, SNP_REPORT_SIZE, 'SIGNATURE reserved');

  const currentTcb = tcb(O.CURRENT_TCB, 'CURRENT_TCB');
  const reportedTcb = tcb(O.REPORTED_TCB, 'REPORTED_TCB');
  const committedTcb = tcb(O.COMMITTED_TCB, 'COMMITTED_TCB');
  const launchTcb = tcb(O.LAUNCH_TCB, 'LAUNCH_TCB');

  return {
    raw: b,
    version: version as 2 | 3 | 5,
    guestSvn: u32(O.GUEST_SVN),
    policy,
    familyId: bytes(O.FAMILY_ID, 16),
    imageId: bytes(O.IMAGE_ID, 16),
    vmpl,
    signatureAlgo,
    platformInfo,
    signerInfo: {
      authorKeyEn: (signerInfoWord & 1) === 1,
      maskChipKey: ((signerInfoWord >>> 1) & 1) === 1,
      signingKey: signingKey!,
    },
    reportData: bytes(O.REPORT_DATA, 64),
    measurement: bytes(O.MEASUREMENT, 48),
    hostData: bytes(O.HOST_DATA, 32),
    idKeyDigest: bytes(O.ID_KEY_DIGEST, 48),
    authorKeyDigest: bytes(O.AUTHOR_KEY_DIGEST, 48),
    reportId: bytes(O.REPORT_ID, 32),
    reportIdMa: bytes(O.REPORT_ID_MA, 32),
    ...(cpuid && { cpuid }),
    ...(cpuidProduct && { cpuidProduct }),
    tcbLayout,
    currentTcb,
    reportedTcb,
    committedTcb,
    launchTcb,
    reportedTcbRaw: bytes(O.REPORTED_TCB, 8),
    chipId: bytes(O.CHIP_ID, 64),
    currentVersion: { major: b[O.CURRENT_MAJOR]!, minor: b[O.CURRENT_MINOR]!, build: b[O.CURRENT_BUILD]! },
    committedVersion: {
      major: b[O.COMMITTED_MAJOR]!,
      minor: b[O.COMMITTED_MINOR]!,
      build: b[O.COMMITTED_BUILD]!,
    },
    ...(launchMitVector !== undefined && { launchMitVector }),
    ...(currentMitVector !== undefined && { currentMitVector }),
    signature: {
      r: reversed(b.subarray(sig + SIG_R, sig + SIG_R + P384_SCALAR)),
      s: reversed(b.subarray(sig + SIG_S, sig + SIG_S + P384_SCALAR)),
    },
  };
}

/** The bytes the signature covers: [0, 0x2A0). */
export function snpSignedBytes(report: SnpReport): Uint8Array {
  return report.raw.subarray(0, SNP_SIGNED_LENGTH);
}

/** POLICY bit 19: the hypervisor may debug (decrypt) the guest. */
export function snpPolicyDebug(policy: bigint): boolean {
  return ((policy >> SNP_POLICY.DEBUG) & 1n) === 1n;
}

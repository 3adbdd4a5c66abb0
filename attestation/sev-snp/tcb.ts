import { fail } from '../errors.js';
import type { SnpTcb } from '../evidence.js';

/** The AMD EPYC generations that sign SEV-SNP reports and have their own ARK. */
export type SnpProduct = 'Milan' | 'Genoa' | 'Turin';

export const SNP_PRODUCTS: readonly SnpProduct[] = ['Milan', 'Genoa', 'Turin'];

/**
 * How the 8 bytes of a TCB_VERSION are laid out. SEV-SNP Firmware ABI #56860, table
 * "TCB_VERSION Structure": Milan and Genoa use byte 0 BOOT_LOADER, byte 1 TEE, bytes 2..5 reserved,
 * byte 6 SNP, byte 7 MICROCODE; Turin (Family 1Ah) uses byte 0 FMC, byte 1 BOOT_LOADER, byte 2 TEE,
 * byte 3 SNP, bytes 4..6 reserved, byte 7 MICROCODE.
 */
export type TcbLayout = 'milan-genoa' | 'turin';

export function tcbLayoutOf(product: SnpProduct): TcbLayout {
  return product === 'Turin' ? 'turin' : 'milan-genoa';
}

/**
 * The product from the report's CPUID_FAM_ID / CPUID_MOD_ID (report v3+, offsets 0x188/0x189; the
 * family is the extended family as CPUID Fn0000_0001_EAX reports it, e.g. 19h/1Ah). Family 19h models
 * 00h..0Fh are Milan, 10h..1Fh Genoa (AMD KDS serves both from the product name); family 1Ah models
 * 00h..11h are Turin. Anything else is a CPU we have no ARK pin for: undefined.
 */
export function productFromCpuid(family: number, model: number): SnpProduct | undefined {
  if (family === 0x19 && model >= 0x00 && model <= 0x0f) return 'Milan';
  if (family === 0x19 && model >= 0x10 && model <= 0x1f) return 'Genoa';
  if (family === 0x1a && model >= 0x00 && model <= 0x11) return 'Turin';
  return undefined;
}

/** Reserved byte indexes of a TCB_VERSION per layout (must be zero). */
const RESERVED_BYTES: Record<TcbLayout, readonly number[]> = {
  'milan-genoa': [2, 3, 4, 5],
  turin: [4, 5, 6],
};

/**
 * Decodes an 8-byte TCB_VERSION (as stored in the report, little-endian byte order) with the given
 * layout. A reserved byte that is not zero fails with SNP_RESERVED_NONZERO at `offset + index`.
 */
export function decodeTcb(raw: Uint8Array, layout: TcbLayout, what: string, offset = 0): SnpTcb {
  if (raw.length !== 8) fail('INVALID_ARGUMENT', `${what}: a TCB_VERSION is 8 bytes, got ${raw.length}`);
  for (const i of RESERVED_BYTES[layout]) {
    if (raw[i] !== 0) {
      fail(
        'SNP_RESERVED_NONZERO',
        `${what}: reserved byte ${i} of the TCB_VERSION is 0x${raw[i]!.toString(16)}`,
        {
          field: what,
          offset: offset + i,
          value: raw[i],
        },
      );
    }
  }
  if (layout === 'turin') {
    return { fmc: raw[0]!, bootloader: raw[1]!, tee: raw[2]!, snp: raw[3]!, microcode: raw[7]! };
  }
  return { bootloader: raw[0]!, tee: raw[1]!, snp: raw[6]!, microcode: raw[7]! };
}

/** Inverse of decodeTcb (reserved bytes zero); for KDS URLs and tests. */
export function encodeTcb(tcb: SnpTcb, layout: TcbLayout): Uint8Array {
  const out = new Uint8Array(8);
  if (layout === 'turin') {
    out[0] = tcb.fmc ?? 0;
    out[1] = tcb.bootloader;
    out[2] = tcb.tee;
    out[3] = tcb.snp;
  } else {
    out[0] = tcb.bootloader;
    out[1] = tcb.tee;
    out[6] = tcb.snp;
  }
  out[7] = tcb.microcode;
  return out;
}

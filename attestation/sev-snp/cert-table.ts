import { X509Certificate } from 'node:crypto';
import type { SnpCollateral } from '../bundle.js';
import { isAllZero, toHex } from '../bytes.js';
import { fail } from '../errors.js';

/*
 * The certificate table a SEV-SNP host hands a guest with an extended report (the `auxblob` of a
 * configfs-tsm report, the `certs` buffer of SNP_GET_EXT_REPORT), per AMD's GHCB specification
 * #56421, "SNP Extended Guest Request" (certificate table format):
 *   entries of 24 bytes   GUID (16) ‖ offset (u32 LE) ‖ length (u32 LE)
 *   terminated by an entry of 24 zero bytes;
 *   offset: from the start of the table; each certificate is DER.
 * GUIDs are stored in the byte order of their text form (RFC 4122, as AMD's and Google's guest
 * tools write them). The host fills the table; nothing in it is trusted: the certificates are only
 * collateral that the verifier checks against the pinned ARK like any other.
 */

const ENTRY = 24;
/** A table far larger than four certificates and a CRL is refused before parsing. */
export const MAX_CERT_TABLE_BYTES = 64 * 1024;
const MAX_ENTRIES = 32;

/** The GUIDs the GHCB specification assigns (text form). */
export const SNP_CERT_GUIDS = {
  ark: 'c0b406a4-a803-4952-9743-3fb6014cd0ae',
  ask: '4ab7b379-bbac-4fe4-a02f-05aef327c782',
  vcek: '63da758d-e664-4564-adc5-f4b93be8accd',
  vlek: 'a8074bc2-a25a-483e-aae6-39c045a0b8a1',
} as const;
export type SnpCertKind = keyof typeof SNP_CERT_GUIDS;

const KIND_BY_GUID = new Map<string, SnpCertKind>(
  Object.entries(SNP_CERT_GUIDS).map(([k, g]) => [g, k as SnpCertKind]),
);

export interface SnpCertTable {
  readonly entries: Partial<Record<SnpCertKind, Uint8Array>>;
  /** GUIDs of entries this parser has no use for (kept so that an operator can see them). */
  readonly unknown: readonly string[];
}

function guidText(b: Uint8Array): string {
  const h = toHex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const bad = (message: string, info?: Record<string, unknown>): never =>
  fail('COLLATERAL_MALFORMED', `SEV-SNP certificate table: ${message}`, { what: 'snp-cert-table', ...info });

/** Parses a certificate table; every entry must lie inside the table, after the entry array. */
export function parseSnpCertTable(table: Uint8Array): SnpCertTable {
  if (table.length > MAX_CERT_TABLE_BYTES)
    bad(`${table.length} bytes, more than the ${MAX_CERT_TABLE_BYTES} accepted`);
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const entries: Partial<Record<SnpCertKind, Uint8Array>> = {};
  const unknown: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; ; i++) {
    const at = i * ENTRY;
    if (at + ENTRY > table.length) bad('no terminating all-zero entry', { entries: i });
    const entry = table.subarray(at, at + ENTRY);
    if (isAllZero(entry)) break;
    if (i >= MAX_ENTRIES) bad(`more than ${MAX_ENTRIES} entries`);
    const guid = guidText(entry.subarray(0, 16));
    const offset = view.getUint32(at + 16, true);
    const length = view.getUint32(at + 20, true);
    if (seen.has(guid)) bad(`GUID ${guid} appears twice`, { guid });
    seen.add(guid);
    if (length === 0) bad(`entry ${guid} is empty`, { guid });
    if (offset + length > table.length)
      bad(`entry ${guid} (offset ${offset}, ${length} bytes) ends past the table's ${table.length} bytes`, {
        guid,
      });
    const kind = KIND_BY_GUID.get(guid);
    if (kind) entries[kind] = table.subarray(offset, offset + length);
    else unknown.push(guid);
  }
  // Certificates must not overlap the entry array (seen entries + terminator).
  const arrayEnd = (seen.size + 1) * ENTRY;
  for (const [kind, der] of Object.entries(entries))
    if (der.byteOffset - table.byteOffset < arrayEnd) bad(`entry ${kind} overlaps the entry array`);
  return { entries, unknown };
}

function pem(der: Uint8Array, kind: SnpCertKind): string {
  try {
    return new X509Certificate(der).toString();
  } catch (e) {
    return fail(
      'CERT_MALFORMED',
      `SEV-SNP certificate table: the ${kind.toUpperCase()} is not a DER certificate`,
      {
        what: kind,
      },
      e,
    );
  }
}

/**
 * Collateral for verifying a report from a host's certificate table: the VCEK or VLEK, and the
 * chain (ASK ‖ ARK, as AMD KDS `cert_chain`) when the host included both. What is missing stays
 * missing: the verifier then refuses with COLLATERAL_MISSING unless the relying party supplies it.
 */
export function snpCollateralFromCertTable(table: Uint8Array): SnpCollateral {
  const { entries: e } = parseSnpCertTable(table);
  return {
    ...(e.vcek && { vcek: e.vcek }),
    ...(e.vlek && { vlek: e.vlek }),
    ...(e.ask && e.ark && { chain: pem(e.ask, 'ask') + pem(e.ark, 'ark') }),
  };
}

/** Builds a certificate table (the inverse of `parseSnpCertTable`); for tests and tools. */
export function buildSnpCertTable(certs: Partial<Record<SnpCertKind, Uint8Array>>): Uint8Array {
  const list = Object.entries(certs) as [SnpCertKind, Uint8Array][];
  const head = (list.length + 1) * ENTRY;
  const total = head + list.reduce((n, [, d]) => n + d.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = head;
  list.forEach(([kind, der], i) => {
    out.set(Buffer.from(SNP_CERT_GUIDS[kind].replaceAll('-', ''), 'hex'), i * ENTRY);
    view.setUint32(i * ENTRY + 16, at, true);
    view.setUint32(i * ENTRY + 20, der.length, true);
    out.set(der, at);
    at += der.length;
  });
  return out;
}

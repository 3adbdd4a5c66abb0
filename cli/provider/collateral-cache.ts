import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeEvidenceBundle, encodeEvidenceBundle, MAX_BUNDLE_BYTES } from '../../attestation/bundle.js';
import { isAttestationError } from '../../attestation/errors.js';
import type { PlatformCollateral, ProviderTee } from './collateral-source.js';

/*
 * The keeper's disk copy of the last collateral it adopted (`collateral-<tee>.json` in the state
 * directory): the collateral as an encoded EvidenceBundle and when it was fetched. It lets a restarted
 * provider present collateral without asking the vendor; the keeper verifies it again before use, so a
 * damaged, foreign or stale file only costs a fetch.
 */

export interface CachedCollateral {
  readonly collateral: PlatformCollateral;
  readonly fetchedAt: Date;
}

export function cacheFile(cacheDir: string, tee: ProviderTee): string {
  return join(cacheDir, `collateral-${tee}.json`);
}

export async function writeCachedCollateral(
  cacheDir: string,
  tee: ProviderTee,
  evidence: Uint8Array,
  c: CachedCollateral,
): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const bundle = encodeEvidenceBundle({ evidence, ...c.collateral });
  const body = JSON.stringify({
    v: 1,
    fetchedAt: c.fetchedAt.toISOString(),
    bundle: Buffer.from(bundle).toString('base64'),
  });
  const file = cacheFile(cacheDir, tee);
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, body);
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The cached collateral, or undefined when the file is absent, too large or not what this code writes. */
export async function readCachedCollateral(
  cacheDir: string,
  tee: ProviderTee,
): Promise<CachedCollateral | undefined> {
  let text: string;
  try {
    const raw = await readFile(cacheFile(cacheDir, tee));
    // base64 and the JSON wrapper add a third to the bundle.
    if (raw.length > 2 * MAX_BUNDLE_BYTES) return undefined;
    text = raw.toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const o = JSON.parse(text) as { v?: unknown; fetchedAt?: unknown; bundle?: unknown };
    if (o.v !== 1 || typeof o.fetchedAt !== 'string' || typeof o.bundle !== 'string') return undefined;
    const fetchedAt = new Date(o.fetchedAt);
    if (Number.isNaN(fetchedAt.getTime())) return undefined;
    const b = decodeEvidenceBundle(new Uint8Array(Buffer.from(o.bundle, 'base64')));
    const collateral =
      tee === 'tdx' ? (b.intel ? { intel: b.intel } : undefined) : b.snp ? { snp: b.snp } : undefined;
    return collateral && { collateral, fetchedAt };
  } catch (e) {
    if (e instanceof SyntaxError || isAttestationError(e)) return undefined;
    throw e;
  }
}

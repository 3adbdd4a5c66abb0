import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * Real hardware test vectors live outside the repository (third-party data, never committed):
 * `$DEFAAS_VECTORS`, or `../shared/vectors` beside the checkout. Where they are absent, tests that
 * need them skip and say so; under CI=true their absence is a failure.
 */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function findVectorsDir(): string | undefined {
  const candidates = [process.env.DEFAAS_VECTORS, join(repoRoot, '..', 'shared', 'vectors')].filter(
    (p): p is string => typeof p === 'string' && p.length > 0,
  );
  return candidates.find((p) => existsSync(join(p, 'index.json')));
}

const dir = findVectorsDir();
if (!dir) {
  const msg =
    'attestation test vectors not found (set DEFAAS_VECTORS or place them at ../shared/vectors): tests that need them are skipped';
  if (process.env.CI === 'true') throw new Error(`${msg.split(':')[0]}; under CI=true this is a failure`);
  console.warn(msg);
}

/** The vectors folder, or undefined when absent (tests then use `describe.skipIf(!VECTORS)`). */
export const VECTORS: string | undefined = dir;

export function vectorPath(rel: string): string {
  if (!dir) throw new Error('test vectors are not available');
  return join(dir, rel);
}

export function readVector(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(vectorPath(rel)));
}

export function readVectorText(rel: string): string {
  return readFileSync(vectorPath(rel), 'utf8');
}

export interface VectorIndexEntry {
  readonly id: string;
  readonly expected: Readonly<Record<string, unknown>> & { readonly verdict: string };
  readonly verify_at: string;
  readonly valid_window?: { readonly from: string; readonly to: string };
  readonly [k: string]: unknown;
}

export interface VectorIndex {
  readonly tdx: readonly VectorIndexEntry[];
  readonly sgx: readonly VectorIndexEntry[];
  readonly sev_snp: readonly VectorIndexEntry[];
  readonly [k: string]: unknown;
}

export function vectorIndex(): VectorIndex {
  return JSON.parse(readVectorText('index.json')) as VectorIndex;
}

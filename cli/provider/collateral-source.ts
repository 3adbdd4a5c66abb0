import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvidenceBundle, SnpCollateral } from '../../attestation/bundle.js';
import { detectEvidenceFormat } from '../../attestation/detect.js';
import { fail } from '../../attestation/errors.js';
import { fetchIntelCollateral, fetchSnpCollateral } from '../../attestation/fetch-collateral.js';
import type { HttpGetter } from '../../attestation/http.js';
import { loadIntelCollateral } from '../../attestation/intel/collateral.js';
import { parseQuote } from '../../attestation/intel/quote.js';
import { KdsClient } from '../../attestation/sev-snp/kds.js';
import { parseSnpReport } from '../../attestation/sev-snp/report.js';

/*
 * Where a provider's collateral comes from, and one fetch of it: Intel PCS, a PCCS (the same v4
 * paths under another base URL; its Root CA CRL at /sgx/certification/v4/rootcacrl), AMD KDS, or a
 * directory an operator (or a cron job) keeps current. Every network read goes through
 * attestation/fetch-collateral.ts and its clients without their disk caches: a refresh must ask the
 * vendor, not a cached copy that is still current. What is fetched is not verified here.
 */

export type ProviderTee = 'tdx' | 'sev-snp';

export interface CollateralSource {
  /** Intel PCS base URL (tdx). */
  readonly pcs?: string;
  /** PCCS base URL serving the PCS v4 paths (tdx). */
  readonly pccs?: string;
  /** AMD KDS base URL (sev-snp). */
  readonly kds?: string;
  /**
   * A directory (tdx: Intel PCS response files or a collateral.json file; sev-snp: `vcek.der`,
   * `cert_chain.pem` and optionally `crl.der`), read again on every refresh.
   */
  readonly dir?: string;
  /** Where the Intel SGX Root CA CRL is fetched; default Intel's for `pcs`, the PCCS's for `pccs`. */
  readonly rootCrl?: string;
}

/** The collateral half of an EvidenceBundle. */
export type PlatformCollateral = Pick<EvidenceBundle, 'intel' | 'snp'>;

/** The files of an SEV-SNP collateral directory. */
export const SNP_COLLATERAL_FILES = { vcek: 'vcek.der', chain: 'cert_chain.pem', crl: 'crl.der' } as const;

/** Checks the source against the TEE and the evidence; returns a short description for status and logs. */
export function checkSource(tee: ProviderTee, evidence: Uint8Array, source: CollateralSource): string {
  if (tee !== 'tdx' && tee !== 'sev-snp')
    fail('INVALID_ARGUMENT', `collateral keeper: unknown tee "${String(tee)}"`);
  const format = detectEvidenceFormat(evidence);
  if (tee === 'tdx' && (format !== 'intel-quote' || parseQuote(evidence).header.teeType !== 0x81))
    fail('INVALID_ARGUMENT', 'collateral keeper: tee "tdx" needs a TDX quote as its evidence', { format });
  if (tee === 'sev-snp') {
    if (format !== 'sev-snp-report')
      fail('INVALID_ARGUMENT', 'collateral keeper: tee "sev-snp" needs an SEV-SNP report as its evidence', {
        format,
      });
    if (parseSnpReport(evidence).signerInfo.signingKey !== 'vcek')
      fail(
        'INVALID_ARGUMENT',
        'collateral keeper: only VCEK-signed SEV-SNP reports are kept (KDS serves no VLEK)',
      );
  }
  const allowed = tee === 'tdx' ? ['pcs', 'pccs', 'dir'] : ['kds', 'dir'];
  const given = (['pcs', 'pccs', 'kds', 'dir'] as const).filter((k) => source[k] !== undefined);
  if (given.length !== 1 || !allowed.includes(given[0]!))
    fail('INVALID_ARGUMENT', `collateral keeper: give exactly one of ${allowed.join(', ')} for ${tee}`, {
      given,
    });
  if (source.rootCrl !== undefined && tee !== 'tdx')
    fail('INVALID_ARGUMENT', 'collateral keeper: rootCrl is for tdx');
  for (const k of ['pcs', 'pccs', 'kds', 'rootCrl'] as const) {
    const u = source[k];
    if (u === undefined) continue;
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(u).protocol);
    } catch {
      ok = false;
    }
    if (!ok) fail('INVALID_ARGUMENT', `collateral keeper: ${k} must be an http(s) URL`, { [k]: u });
  }
  const key = given[0]!;
  return `${key}:${source[key]}`;
}

export interface FetchPlatformOptions {
  readonly getter: HttpGetter;
  readonly now: Date;
  /** SEV-SNP from KDS: also fetch the ARK-signed CRL (default true). */
  readonly snpCrl?: boolean;
}

/** One read of the source: the collateral the evidence's platform needs, unverified. */
export async function fetchPlatformCollateral(
  tee: ProviderTee,
  evidence: Uint8Array,
  source: CollateralSource,
  o: FetchPlatformOptions,
): Promise<PlatformCollateral> {
  if (tee === 'tdx') {
    if (source.dir !== undefined) return { intel: await loadIntelCollateral(source.dir) };
    const base = (source.pcs ?? source.pccs)!.replace(/\/+$/, '');
    const rootCrlUrl =
      source.rootCrl ?? (source.pccs !== undefined ? `${base}/sgx/certification/v4/rootcacrl` : undefined);
    const intel = await fetchIntelCollateral(
      evidence,
      { getter: o.getter, pcsUrl: base, ...(rootCrlUrl && { rootCrlUrl }) },
      o.now,
    );
    return { intel };
  }
  if (source.dir !== undefined) return { snp: await readSnpDir(source.dir) };
  const kdsUrl = source.kds!.replace(/\/+$/, '');
  const snp = await fetchSnpCollateral(evidence, { getter: o.getter, kdsUrl });
  if (o.snpCrl === false) return { snp };
  const product = parseSnpReport(evidence).cpuidProduct!;
  const crl = await new KdsClient({ getter: o.getter, baseUrl: kdsUrl }).fetchCrl(product, o.now, 'vcek');
  return { snp: { ...snp, crl } };
}

async function readSnpDir(dir: string): Promise<SnpCollateral> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    return fail('COLLATERAL_MISSING', `SEV-SNP collateral directory not found at ${dir}`, { path: dir }, e);
  }
  const read = async (name: string, optional: boolean): Promise<Uint8Array | undefined> => {
    const p = join(dir, name);
    try {
      return new Uint8Array(await readFile(p));
    } catch (e) {
      if (optional && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      return fail('COLLATERAL_MISSING', `cannot read collateral file ${p}`, { path: p }, e);
    }
  };
  const f = SNP_COLLATERAL_FILES;
  const [vcek, chain, crl] = await Promise.all([
    read(f.vcek, false),
    read(f.chain, false),
    read(f.crl, true),
  ]);
  let chainText: string;
  try {
    chainText = new TextDecoder('utf-8', { fatal: true }).decode(chain);
  } catch (e) {
    return fail(
      'COLLATERAL_MALFORMED',
      `${join(dir, f.chain)}: not UTF-8 text`,
      { path: join(dir, f.chain) },
      e,
    );
  }
  return { vcek: vcek!, chain: chainText, ...(crl && { crl }) };
}

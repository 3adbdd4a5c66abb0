import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { FetchCollateralOptions } from '../attestation/fetch-collateral.js';
import { INTEL_PCS_BASE_URL, INTEL_ROOT_CA_CRL_URL } from '../attestation/intel/pcs.js';
import { AMD_KDS_BASE } from '../attestation/sev-snp/kds.js';
import { fetchGetter } from '../sdk/http-getter.js';
import { httpUrlArg } from './args.js';

/** The collateral-fetching flags shared by `attest verify` and `invoke`. */
export interface FetchFlags {
  fetch?: boolean;
  pcsUrl: string;
  rootCrlUrl: string;
  kdsUrl: string;
  cacheDir: string;
}

/** Where fetched collateral is kept unless --cache-dir says otherwise. */
export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'defaas');
}

/** Adds `--fetch` (described by `what`) and the vendor URL and cache flags. */
export function addFetchFlags(cmd: Command, what: string): Command {
  return cmd
    .option('--fetch', what)
    .option(
      '--pcs-url <url>',
      'Intel PCS (or a PCCS serving the v4 API) for --fetch',
      httpUrlArg,
      INTEL_PCS_BASE_URL,
    )
    .option(
      '--root-crl-url <url>',
      'where --fetch gets the Intel SGX Root CA CRL',
      httpUrlArg,
      INTEL_ROOT_CA_CRL_URL,
    )
    .option('--kds-url <url>', 'AMD KDS for --fetch', httpUrlArg, AMD_KDS_BASE)
    .option('--cache-dir <dir>', 'where --fetch keeps fetched collateral', defaultCacheDir());
}

/** The fetchers' options from the flags, over the real network (fetch()). */
export function fetchOptions(o: FetchFlags): FetchCollateralOptions {
  return {
    getter: fetchGetter(),
    pcsUrl: o.pcsUrl,
    rootCrlUrl: o.rootCrlUrl,
    kdsUrl: o.kdsUrl,
    cacheDir: o.cacheDir,
  };
}

import { join } from 'node:path';
import type { EvidenceBundle, SnpCollateral } from './bundle.js';
import { detectEvidenceFormat } from './detect.js';
import { fail } from './errors.js';
import type { HttpGetter } from './http.js';
import { parsePckExtensions } from './intel/pck.js';
import { PcsClient } from './intel/pcs.js';
import { parseQuote } from './intel/quote.js';
import type { IntelCollateral } from './intel/types.js';
import { KdsClient } from './sev-snp/kds.js';
import { parseSnpReport } from './sev-snp/report.js';
import { parseCertificate } from './x509.js';

/*
 * What a piece of evidence lacks, from the vendors' services: Intel collateral from PCS v4 (FMSPC and
 * the issuing PCK CA read from the quote's own PCK certificate), or the VCEK and AMD chain from KDS
 * (the chip and TCB read from the report). The network is injected (`HttpGetter`); responses are
 * parsed before they are used or cached, and verified later like any collateral.
 */

export interface FetchCollateralOptions {
  readonly getter: HttpGetter;
  /** Intel PCS (or a PCCS serving the v4 API); default Intel's. */
  readonly pcsUrl?: string;
  /** Where the Intel SGX Root CA CRL is fetched; default Intel's. */
  readonly rootCrlUrl?: string;
  /** AMD KDS (or a caching proxy); default AMD's. */
  readonly kdsUrl?: string;
  /** Disk cache for responses (`pcs/`, `kds/` below it); none when absent. */
  readonly cacheDir?: string;
}

/** Intel collateral for a quote. */
export async function fetchIntelCollateral(
  evidence: Uint8Array,
  o: FetchCollateralOptions,
  now: Date,
): Promise<IntelCollateral> {
  const quote = parseQuote(evidence);
  const pem = new TextDecoder().decode(quote.pckCertChain);
  const [pckPem] = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (!pckPem) return fail('CERT_MALFORMED', 'the quote carries no PCK certificate');
  const pck = parseCertificate(pckPem, 'PCK certificate');
  const ext = parsePckExtensions(pck);
  const pcs = new PcsClient({
    getter: o.getter,
    ...(o.pcsUrl && { baseUrl: o.pcsUrl }),
    ...(o.rootCrlUrl && { rootCaCrlUrl: o.rootCrlUrl }),
    ...(o.cacheDir && { cacheDir: join(o.cacheDir, 'pcs') }),
  });
  return pcs.fetchCollateral({
    tee: quote.header.teeType === 0x81 ? 'tdx' : 'sgx',
    fmspc: ext.fmspc,
    pckCa: /Processor/.test(pck.issuer) ? 'processor' : 'platform',
    now,
  });
}

/**
 * SEV-SNP collateral for a report: what `have` lacks of the VCEK and the chain. A VLEK is never
 * fetched (KDS serves it only to the cloud provider); its chain is.
 */
export async function fetchSnpCollateral(
  evidence: Uint8Array,
  o: FetchCollateralOptions,
  have: SnpCollateral = {},
): Promise<SnpCollateral> {
  const report = parseSnpReport(evidence);
  const product = report.cpuidProduct;
  if (!product)
    fail('COLLATERAL_MISSING', 'a v2 SEV-SNP report names no product, so its VCEK cannot be fetched', {
      what: 'vcek',
    });
  const kds = new KdsClient({
    getter: o.getter,
    ...(o.kdsUrl && { baseUrl: o.kdsUrl }),
    ...(o.cacheDir && { cacheDir: join(o.cacheDir, 'kds') }),
  });
  const vcek = have.vcek ?? (have.vlek ? undefined : await kds.fetchVcekForReport(report, product));
  const chain = have.chain ?? (await kds.fetchCertChain(product, have.vlek ? 'vlek' : 'vcek'));
  return { ...have, ...(vcek && { vcek }), chain };
}

/** The bundle with whatever its evidence needs and lacks fetched; other evidence is returned as is. */
export async function completeBundle(
  bundle: EvidenceBundle,
  o: FetchCollateralOptions,
  now: Date,
): Promise<EvidenceBundle> {
  const format = detectEvidenceFormat(bundle.evidence);
  if (format === 'intel-quote' && !bundle.intel)
    return { ...bundle, intel: await fetchIntelCollateral(bundle.evidence, o, now) };
  if (format === 'sev-snp-report' && !((bundle.snp?.vcek || bundle.snp?.vlek) && bundle.snp.chain))
    return { ...bundle, snp: await fetchSnpCollateral(bundle.evidence, o, bundle.snp) };
  return bundle;
}

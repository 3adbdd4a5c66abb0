import { type Command, Option } from 'commander';
import type { EvidenceBundle, SnpCollateral } from '../../attestation/bundle.js';
import { verifyEvidence } from '../../attestation/check.js';
import { detectEvidenceFormat } from '../../attestation/detect.js';
import { isAttestationError } from '../../attestation/errors.js';
import type { TeeType, VerifiedEvidence } from '../../attestation/evidence.js';
import { fetchIntelCollateral, fetchSnpCollateral } from '../../attestation/fetch-collateral.js';
import { loadIntelCollateral } from '../../attestation/intel/collateral.js';
import { PLATFORM_POLICY, type Policy, validateEvidence } from '../../attestation/policy.js';
import { parseSnpReport } from '../../attestation/sev-snp/report.js';
import { timeArg } from '../args.js';
import { UsageError } from '../errors.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { addFetchFlags, type FetchFlags, fetchOptions } from '../fetch-options.js';
import { exists, readBytes, readPolicy, readText } from '../files.js';
import { action, hex, printResult, reportFailure } from '../output.js';

export function registerAttest(program: Command): void {
  const attest = program
    .command('attest')
    .description('verify TEE evidence (Intel TDX/SGX quotes, AMD SEV-SNP reports, simulated)');
  const verify = attest
    .command('verify')
    .description(
      'verify one piece of evidence: parse, verify signatures/chains/collateral, then apply a policy',
    )
    .argument('<evidence>', 'evidence file: a quote or report, raw bytes or hex text')
    .option('--vcek <file>', 'SEV-SNP: the VCEK certificate (DER or PEM) that signed the report')
    .option('--vlek <file>', 'SEV-SNP: the VLEK certificate (DER or PEM) that signed the report')
    .option(
      '--chain <pem>',
      'SEV-SNP: AMD certificate chain, ASK (or ASVK) then ARK, as served by AMD KDS cert_chain',
    )
    .option('--crl <file>', 'SEV-SNP: AMD CRL (DER) signed by the ARK (optional)')
    .option(
      '--collateral <file|dir>',
      'Intel: collateral.json (QuoteCollateralV3) or a directory of Intel PCS responses',
    );
  addFetchFlags(
    verify,
    'fetch what is missing: Intel collateral from PCS, the VCEK and AMD chain from KDS (network)',
  )
    .addOption(
      new Option(
        '--at <time>',
        'verification time, RFC 3339 (default: now); collateral windows are judged at it',
      ).argParser(timeArg),
    )
    .option(
      '--policy <file>',
      'policy JSON (default: the platform policy: genuine, fresh, TCB UpToDate, no debug)',
    )
    .option('--json', 'print one JSON object (the verdict and what the evidence says) on stdout')
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}Genuine evidence the policy refuses exits 4; forged, broken, stale or malformed evidence exits 1;\n` +
        'collateral that could not be fetched now exits 3.\n' +
        'Example:\n  defaas attest verify quote.bin --collateral collateral.json --at 2025-07-01T00:00:00Z --json',
    )
    .action(action(attestVerify));
}

interface AttestVerifyOptions extends FetchFlags {
  vcek?: string;
  vlek?: string;
  chain?: string;
  crl?: string;
  collateral?: string;
  at?: Date;
  policy?: string;
  json?: boolean;
}

const PLATFORM_POLICY_NAME =
  'platform (genuine evidence, fresh collateral, TCB UpToDate, debug off; measurements not pinned)';

async function attestVerify(json: boolean, evidencePath: string, o: AttestVerifyOptions): Promise<ExitCode> {
  const now = o.at ?? new Date();
  const policy: Policy = o.policy ? await readPolicy(o.policy) : PLATFORM_POLICY;
  const policyName = o.policy ?? PLATFORM_POLICY_NAME;
  const evidence = decodeMaybeHex(await readBytes(evidencePath, 'evidence'));
  let verified: VerifiedEvidence | undefined;
  try {
    const bundle = await assembleBundle(evidence, o, now);
    verified = verifyEvidence(bundle, { now });
    validateEvidence(verified, policy, { now });
  } catch (e) {
    if (!isAttestationError(e)) throw e;
    const facts = evidenceFacts(verified, teeOfFormat(evidence), policyName, now);
    return reportFailure(e, json, { fields: facts, lines: factLines(facts) });
  }
  const facts = evidenceFacts(verified, undefined, policyName, now);
  const text = [`ACCEPTED  ${facts.tee} evidence`, ...factLines(facts).map((l) => `  ${l}`)];
  printResult(json, facts, text.join('\n'));
  return EXIT.OK;
}

async function assembleBundle(
  evidence: Uint8Array,
  o: AttestVerifyOptions,
  now: Date,
): Promise<EvidenceBundle> {
  const format = detectEvidenceFormat(evidence);
  const fetching = fetchOptions(o);
  if (format === 'intel-quote') {
    if (o.collateral) {
      await exists(o.collateral, '--collateral');
      return { evidence, intel: await loadIntelCollateral(o.collateral) };
    }
    if (!o.fetch)
      throw new UsageError(
        'an Intel quote needs --collateral <collateral.json | PCS directory>, or --fetch',
        'MISSING_ARGUMENT',
      );
    return { evidence, intel: await fetchIntelCollateral(evidence, fetching, now) };
  }
  if (format === 'sev-snp-report') {
    if (!o.fetch && !o.vcek && !o.vlek)
      throw new UsageError(
        'an SEV-SNP report needs --vcek <file> or --vlek <file>, or --fetch',
        'MISSING_ARGUMENT',
      );
    if (!o.fetch && !o.chain) {
      throw new UsageError(
        'an SEV-SNP report needs --chain <pem> (ASK or ASVK, then ARK: AMD KDS cert_chain), or --fetch',
        'MISSING_ARGUMENT',
      );
    }
    if (o.fetch && !o.vcek && !o.vlek && !parseSnpReport(evidence).cpuidProduct)
      throw new UsageError(
        'a v2 SEV-SNP report names no product: pass --vcek and --chain instead of --fetch',
        'MISSING_ARGUMENT',
      );
    const have: SnpCollateral = {
      ...(o.vcek && { vcek: pemOrDer(await readBytes(o.vcek, '--vcek')) }),
      ...(o.vlek && { vlek: pemOrDer(await readBytes(o.vlek, '--vlek')) }),
      ...(o.chain && { chain: await readText(o.chain, '--chain') }),
      ...(o.crl && { crl: await readBytes(o.crl, '--crl') }),
    };
    return { evidence, snp: o.fetch ? await fetchSnpCollateral(evidence, fetching, have) : have };
  }
  return { evidence };
}

function teeOfFormat(evidence: Uint8Array): TeeType | undefined {
  const f = detectEvidenceFormat(evidence);
  if (f === 'simulated') return 'simulated';
  if (f === 'sev-snp-report') return 'sev-snp';
  if (f === 'intel-quote') return evidence[4] === 0x81 ? 'tdx' : 'sgx';
  return undefined;
}

/**
 * What the evidence says, as far as it was verified (null where it was not), with the policy and the
 * time it was judged by: the result on success, the details of a refusal. Bytes stay bytes here; the
 * output turns them into 0x-hex.
 */
export function evidenceFacts(
  v: VerifiedEvidence | undefined,
  tee: TeeType | undefined,
  policy: string,
  at: Date,
): Record<string, unknown> {
  const intel = v && (v.tee === 'tdx' || v.tee === 'sgx') ? v : undefined;
  return {
    tee: v?.tee ?? tee ?? null,
    tcbStatus: intel ? intel.tcbStatus : null,
    advisoryIds: intel ? intel.advisoryIds : [],
    measurements: v ? { ...v.measurements } : null,
    reportData: v ? v.reportData : null,
    debug: v ? v.debug : null,
    ...(intel && { ppid: intel.ppid, fmspc: intel.fmspc }),
    ...(v?.tee === 'sev-snp' && {
      chipId: v.chipId,
      product: v.product,
      signingKey: v.signingKey,
      vmpl: v.vmpl,
      reportedTcb: v.reportedTcb,
    }),
    ...(v?.tee === 'simulated' && { rootKeyHash: v.rootKeyHash }),
    evidenceHash: v ? v.evidenceHash : null,
    policy,
    verifiedAt: at,
  };
}

/** The text rendering of evidenceFacts. */
function factLines(f: Record<string, unknown>): string[] {
  const lines = [`policy:       ${f.policy}`, `verified at:  ${(f.verifiedAt as Date).toISOString()}`];
  if (f.tcbStatus) {
    const ids = f.advisoryIds as string[];
    lines.push(`TCB status:   ${f.tcbStatus}${ids.length ? ` (${ids.join(', ')})` : ''}`);
  }
  if (f.debug !== null) lines.push(`debug:        ${f.debug}`);
  if (f.measurements) {
    lines.push('measurements:');
    for (const [k, b] of Object.entries(f.measurements as Record<string, Uint8Array>))
      lines.push(`  ${k.padEnd(15)} ${hex(b)}`);
    lines.push(`reportData:   ${hex(f.reportData as Uint8Array)}`);
  }
  if (f.evidenceHash) lines.push(`evidence:     sha256 ${hex(f.evidenceHash as Uint8Array)}`);
  return lines;
}

/** Evidence files may hold raw bytes or hex text (as many projects ship quotes). */
function decodeMaybeHex(b: Uint8Array): Uint8Array {
  const text = new TextDecoder('latin1').decode(b).trim();
  if (text.length >= 8 && text.length % 2 === 0 && /^(0x)?[0-9a-fA-F]+$/.test(text)) {
    return new Uint8Array(Buffer.from(text.replace(/^0x/, ''), 'hex'));
  }
  return b;
}

function pemOrDer(b: Uint8Array): Uint8Array {
  const text = new TextDecoder('latin1').decode(b);
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text);
  return m ? new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')) : b;
}

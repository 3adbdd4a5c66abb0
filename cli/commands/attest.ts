import type { Command } from 'commander';
import type { EvidenceBundle, SnpCollateral } from '../../attestation/bundle.js';
import { toHex } from '../../attestation/bytes.js';
import { verifyEvidence } from '../../attestation/check.js';
import { detectEvidenceFormat } from '../../attestation/detect.js';
import { type AttestationError, isAttestationError } from '../../attestation/errors.js';
import type { VerifiedEvidence } from '../../attestation/evidence.js';
import { fetchIntelCollateral, fetchSnpCollateral } from '../../attestation/fetch-collateral.js';
import { loadIntelCollateral } from '../../attestation/intel/collateral.js';
import { PLATFORM_POLICY, type Policy, parsePolicy, validateEvidence } from '../../attestation/policy.js';
import { parseSnpReport } from '../../attestation/sev-snp/report.js';
import { EXIT, exitCodeFor, UsageError } from '../exit-codes.js';
import { addFetchFlags, type FetchFlags, fetchOptions } from '../fetch-options.js';
import { exists, readBytes, readText } from '../files.js';

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
    .option('--at <time>', 'verification time, RFC 3339 (default: now); collateral windows are judged at it')
    .option(
      '--policy <file>',
      'policy JSON (default: the platform policy: genuine, fresh, TCB UpToDate, no debug)',
    )
    .option('--json', 'print one JSON object instead of text')
    .addHelpText(
      'after',
      '\nExit codes: 0 accepted, 1 rejected (malformed, failed verification or policy), 2 usage error, 3 transient\n' +
        '(collateral could not be fetched now).\n' +
        'Example:\n  defaas attest verify quote.bin --collateral collateral.json --at 2025-07-01T00:00:00Z --json',
    )
    .action(async (evidencePath: string, opts: AttestVerifyOptions) => {
      process.exitCode = await attestVerify(evidencePath, opts);
    });
}

interface AttestVerifyOptions extends FetchFlags {
  vcek?: string;
  vlek?: string;
  chain?: string;
  crl?: string;
  collateral?: string;
  at?: string;
  policy?: string;
  json?: boolean;
}

async function attestVerify(evidencePath: string, o: AttestVerifyOptions): Promise<number> {
  const now = o.at === undefined ? new Date() : parseTime(o.at);
  const policy: Policy = o.policy ? parsePolicy(await readText(o.policy, '--policy')) : PLATFORM_POLICY;
  const policyName =
    o.policy ??
    'platform (genuine evidence, fresh collateral, TCB UpToDate, debug off; measurements not pinned)';
  const evidence = decodeMaybeHex(await readBytes(evidencePath, 'evidence'));
  let verified: VerifiedEvidence | undefined;
  try {
    const bundle = await assembleBundle(evidence, o, now);
    verified = verifyEvidence(bundle, { now });
    validateEvidence(verified, policy, { now });
    report(o.json, { ok: true, verified, policy: policyName, at: now });
    return EXIT.OK;
  } catch (e) {
    if (!isAttestationError(e)) throw e;
    report(o.json, {
      ok: false,
      verified,
      error: e,
      policy: policyName,
      at: now,
      tee: teeOfFormat(evidence),
    });
    return exitCodeFor(e);
  }
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
      throw new UsageError('an Intel quote needs --collateral <collateral.json | PCS directory>, or --fetch');
    return { evidence, intel: await fetchIntelCollateral(evidence, fetching, now) };
  }
  if (format === 'sev-snp-report') {
    if (!o.fetch && !o.vcek && !o.vlek)
      throw new UsageError('an SEV-SNP report needs --vcek <file> or --vlek <file>, or --fetch');
    if (!o.fetch && !o.chain) {
      throw new UsageError(
        'an SEV-SNP report needs --chain <pem> (ASK or ASVK, then ARK: AMD KDS cert_chain), or --fetch',
      );
    }
    if (o.fetch && !o.vcek && !o.vlek && !parseSnpReport(evidence).cpuidProduct)
      throw new UsageError(
        'a v2 SEV-SNP report names no product: pass --vcek and --chain instead of --fetch',
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

function teeOfFormat(evidence: Uint8Array): string | undefined {
  const f = detectEvidenceFormat(evidence);
  if (f === 'simulated') return 'simulated';
  if (f === 'sev-snp-report') return 'sev-snp';
  if (f === 'intel-quote') return evidence[4] === 0x81 ? 'tdx' : 'sgx';
  return undefined;
}

interface Outcome {
  ok: boolean;
  verified: VerifiedEvidence | undefined;
  error?: AttestationError;
  policy: string;
  at: Date;
  tee?: string | undefined;
}

/** The `--json` object (one per run) and the text rendering of the same facts. */
export function outcomeJson(r: Outcome): Record<string, unknown> {
  const v = r.verified;
  const out: Record<string, unknown> = { ok: r.ok, tee: v?.tee ?? r.tee ?? null };
  if (r.error) {
    out.code = r.error.code;
    out.kind = r.error.kind;
    out.message = r.error.message;
  } else {
    out.message = 'accepted';
  }
  out.tcbStatus = v && (v.tee === 'tdx' || v.tee === 'sgx') ? v.tcbStatus : null;
  out.advisoryIds = v && (v.tee === 'tdx' || v.tee === 'sgx') ? v.advisoryIds : [];
  out.measurements = v
    ? Object.fromEntries(Object.entries(v.measurements).map(([k, b]) => [k, toHex(b)]))
    : null;
  out.reportData = v ? toHex(v.reportData) : null;
  out.debug = v ? v.debug : null;
  if (v && (v.tee === 'tdx' || v.tee === 'sgx')) {
    out.ppid = toHex(v.ppid);
    out.fmspc = toHex(v.fmspc);
  }
  if (v?.tee === 'sev-snp') {
    out.chipId = toHex(v.chipId);
    out.product = v.product;
    out.signingKey = v.signingKey;
    out.vmpl = v.vmpl;
    out.reportedTcb = v.reportedTcb;
  }
  if (v?.tee === 'simulated') out.rootKeyHash = toHex(v.rootKeyHash);
  if (v) out.evidenceHash = toHex(v.evidenceHash);
  out.policy = r.policy;
  out.verifiedAt = r.at.toISOString();
  return out;
}

function report(json: boolean | undefined, r: Outcome): void {
  const o = outcomeJson(r);
  if (json) {
    process.stdout.write(`${JSON.stringify(o, null, 2)}\n`);
    return;
  }
  const lines = [
    r.ok ? `ACCEPTED  ${o.tee} evidence` : `REJECTED  [${o.code}] ${o.message}`,
    `  policy:       ${r.policy}`,
    `  verified at:  ${o.verifiedAt}`,
  ];
  if (o.tcbStatus)
    lines.push(
      `  TCB status:   ${o.tcbStatus}${(o.advisoryIds as string[]).length ? ` (${(o.advisoryIds as string[]).join(', ')})` : ''}`,
    );
  if (o.debug !== null) lines.push(`  debug:        ${o.debug}`);
  if (o.measurements) {
    lines.push('  measurements:');
    for (const [k, h] of Object.entries(o.measurements as Record<string, string>))
      lines.push(`    ${k.padEnd(15)} ${h}`);
    lines.push(`  reportData:   ${o.reportData}`);
  }
  (r.ok ? process.stdout : process.stderr).write(`${lines.join('\n')}\n`);
}

function parseTime(s: string): Date {
  // RFC 3339: a full date, 'T', a time and an explicit zone.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(s)) {
    throw new UsageError(`--at: "${s}" is not an RFC 3339 time (e.g. 2025-07-01T00:00:00Z)`);
  }
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new UsageError(`--at: "${s}" is not a valid time`);
  return d;
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

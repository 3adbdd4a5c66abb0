/*
 * `defaas audit verify` audits an attestation log (verifier/log/audit.ts) and, with --rpc, its links
 * to the chain (verifier/log/audit-chain.ts). It keeps one trusted checkpoint in a state file and
 * advances it only when the tree verified (signature, quorum, consistency with what it trusted, every
 * tile): a log that forked, shrank or rewrote its past never becomes the trusted one. With --policy
 * (c2sp.org/tlog-policy) the checkpoint must also carry the policy's quorum of witness cosignatures.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { JsonRpcProvider, Network } from 'ethers';
import { VerifyCache } from '../../attestation/cache.js';
import { connectAttestationLog } from '../../contracts/bindings/attestation-log.js';
import { connectMarket } from '../../contracts/bindings/market.js';
import { connectRegistry } from '../../contracts/bindings/registry.js';
import { connectWitnessPool } from '../../contracts/bindings/witness-pool.js';
import { writeFileAtomic } from '../../verifier/durable-file.js';
import { type AuditReport, auditLog, type Finding, LogUnreachableError } from '../../verifier/log/audit.js';
import { auditChain, type ChainAudit } from '../../verifier/log/audit-chain.js';
import { auditReceipts, parseReceiptStore, type ReceiptAudit } from '../../verifier/log/audit-receipts.js';
import type { WitnessPolicy } from '../../verifier/log/cosignature.js';
import { isLogError } from '../../verifier/log/errors.js';
import type { NoteVerifier } from '../../verifier/log/note.js';
import { witnessPolicyOf } from '../../verifier/log/policy.js';
import { hash32Arg } from '../args.js';
import { CliError, UsageError } from '../errors.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { readText } from '../files.js';
import { action, printResult, progress } from '../output.js';
import { readerFor, readVerifierKey } from './log.js';
import { readPolicyFile } from './log-witness.js';

interface VerifyOptions {
  log: string;
  vkey?: string;
  policy?: string;
  trusted?: string;
  rpc?: string;
  deployment?: string;
  simulatedRoot: Uint8Array[];
  skipEvidence?: boolean;
  receipts?: string;
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('audit the attestation log and its links to the chain');
  audit
    .command('verify')
    .description(
      "verify a log: its checkpoint signature, consistency with the trusted checkpoint, every tile, entry and blob, every piece of evidence again at its logged time, and (with --rpc) the chain's anchors, executors, leases and revealed verdicts",
    )
    .requiredOption('--log <url|dir>', 'the log (its HTTP URL or its directory)')
    .option('--vkey <file|vkey>', "the log's verifier key (or the policy's log)")
    .option(
      '--policy <file>',
      'a c2sp.org/tlog-policy file: the log key(s), the witnesses and the quorum of cosignatures the checkpoint needs',
    )
    .option(
      '--trusted <file>',
      'the trusted checkpoint: read if present, advanced (or created) when the tree verifies',
    )
    .option('--rpc <url>', 'JSON-RPC endpoint for the chain checks')
    .option('--deployment <file>', 'deployment file naming the contracts (with --rpc)')
    .option(
      '--simulated-root <sha256>',
      'accept simulated evidence from this software root (SHA-256 of its public key, hex); repeatable',
      (v: string, prev: Uint8Array[]) => [...prev, hash32Arg(v)],
      [] as Uint8Array[],
    )
    .option(
      '--receipts <file>',
      "a customer's receipt store (the SDK's LocalReceiptStore file): each receipt's evidence must be logged",
    )
    .option('--skip-evidence', 'do not verify the evidence again (tree, bundles and blobs only)')
    .option('--json', 'print the report as one JSON object')
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}For this command: 0 clean; 1 any finding (each has a code); 2 usage; 3 the log or the chain cannot be read.`,
    )
    .action(action(verify));
}

/**
 * The log key and witness policy: --vkey alone (no witnesses), --policy alone (its one log), or both
 * (--vkey must be one of the policy's logs).
 */
async function logKeyAndPolicy(
  o: VerifyOptions,
): Promise<{ logKey: NoteVerifier; witnesses?: WitnessPolicy }> {
  if (o.policy === undefined) {
    if (o.vkey === undefined)
      throw new UsageError('give --vkey, --policy or both', 'MISSING_ARGUMENT', { flag: '--vkey' });
    return { logKey: await readVerifierKey(o.vkey) };
  }
  const policy = await readPolicyFile(o.policy);
  const same = (a: NoteVerifier, b: NoteVerifier) => a.name === b.name && a.keyId === b.keyId;
  let logKey: NoteVerifier;
  if (o.vkey !== undefined) {
    logKey = await readVerifierKey(o.vkey);
    const k = logKey;
    if (policy.logs.length > 0 && !policy.logs.some((l) => same(l.verifier, k)))
      throw new UsageError(`--vkey: ${o.vkey} is not one of the logs of ${o.policy}`, 'INVALID_ARGUMENT', {
        flag: '--vkey',
      });
  } else {
    const only = policy.logs[0];
    if (only === undefined || policy.logs.length > 1)
      throw new UsageError(
        `--policy: ${o.policy} lists ${policy.logs.length} logs; name the one to audit with --vkey`,
        'MISSING_ARGUMENT',
        { flag: '--vkey' },
      );
    logKey = only.verifier;
  }
  return { logKey, witnesses: witnessPolicyOf(policy) };
}

async function verify(json: boolean, o: VerifyOptions): Promise<ExitCode> {
  const { logKey, witnesses } = await logKeyAndPolicy(o);
  if ((o.rpc === undefined) !== (o.deployment === undefined))
    throw new UsageError('the chain checks need both --rpc and --deployment', 'MISSING_ARGUMENT', {
      flag: '--rpc',
    });
  let trusted: string | undefined;
  if (o.trusted !== undefined) {
    try {
      trusted = await readFile(o.trusted, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  const read = readerFor(o.log);
  let lastShown = 0;
  let report: AuditReport;
  try {
    report = await auditLog({
      read,
      origin: logKey.name,
      logKeys: [logKey],
      ...(trusted !== undefined && { trusted }),
      ...(witnesses && { witnesses, now: Math.floor(Date.now() / 1000) }),
      simulatedRoots: o.simulatedRoot,
      cache: new VerifyCache(),
      skipEvidence: o.skipEvidence === true,
      onProgress: (done, total) => {
        if (done - lastShown >= 4096 || done === total) {
          lastShown = done;
          progress(json, `audited ${done} of ${total} entries`);
        }
      },
    });
  } catch (e) {
    if (e instanceof LogUnreachableError)
      throw new CliError('CHAIN_UNAVAILABLE', `--log: ${e.message}`, { log: o.log });
    throw e;
  }

  let chain: ChainAudit | undefined;
  if (o.rpc !== undefined && o.deployment !== undefined && report.checkpoint && report.hashes) {
    const dep = JSON.parse(await readText(o.deployment, '--deployment')) as {
      chainId: number;
      contracts: Record<string, string>;
    };
    const provider = new JsonRpcProvider(o.rpc, Network.from(BigInt(dep.chainId)), { staticNetwork: true });
    try {
      chain = await auditChain({
        contracts: {
          attestationLog: connectAttestationLog(dep.contracts.attestationLog!, provider),
          registry: connectRegistry(dep.contracts.registry!, provider),
          market: connectMarket(dep.contracts.market!, provider),
          witnessPool: connectWitnessPool(dep.contracts.witnessPool!, provider),
        },
        origin: logKey.name,
        logKeys: [logKey],
        size: report.checkpoint.size,
        hashes: report.hashes,
        entries: report.logged,
      });
    } catch (e) {
      throw new CliError(
        'CHAIN_UNAVAILABLE',
        `--rpc: the chain checks could not be made (${(e as Error).message})`,
      );
    } finally {
      provider.destroy();
    }
  }

  let receipts: ReceiptAudit | undefined;
  if (o.receipts !== undefined) {
    let stored: ReturnType<typeof parseReceiptStore>;
    try {
      stored = parseReceiptStore(await readText(o.receipts, '--receipts'));
    } catch (e) {
      if (isLogError(e))
        throw new UsageError(`--receipts: ${e.message}`, 'FILE_INVALID', { flag: '--receipts' });
      throw e;
    }
    receipts = auditReceipts(stored, report.logged);
  }
  const findings: Finding[] = [...report.findings, ...(chain?.findings ?? []), ...(receipts?.findings ?? [])];
  let advanced = false;
  if (o.trusted !== undefined && report.treeVerified && report.checkpoint) {
    await writeFileAtomic(o.trusted, report.checkpoint.text, 0o644);
    advanced = trusted !== report.checkpoint.text;
  }
  const clean = findings.length === 0;
  const { logged: _l, hashes: _h, findings: _f, ...summary } = report;
  printResult(
    json,
    {
      clean,
      ...summary,
      chain: chain && { ...chain, findings: undefined },
      receipts: receipts && { total: receipts.total, logged: receipts.logged },
      findings,
      advanced,
    },
    text(report, chain, receipts, findings, advanced, o.trusted),
  );
  return clean ? EXIT.OK : EXIT.VERIFICATION_FAILED;
}

function text(
  r: AuditReport,
  chain: ChainAudit | undefined,
  receipts: ReceiptAudit | undefined,
  findings: Finding[],
  advanced: boolean,
  trustedFile?: string,
): string {
  const lines: string[] = [];
  const ok = (b: boolean) => (b ? 'ok  ' : 'FAIL');
  lines.push(`log ${r.origin}`);
  if (r.checkpoint) lines.push(`  checkpoint   size ${r.checkpoint.size}, root ${r.checkpoint.root}`);
  if (r.trusted) lines.push(`  trusted      size ${r.trusted.size}, root ${r.trusted.root}`);
  if (r.cosigners)
    lines.push(`  cosigned by  ${r.cosigners.length === 0 ? 'no policy witness' : r.cosigners.join(', ')}`);
  lines.push(
    `  ${ok(r.treeVerified)} tree: signature${r.cosigners ? ', cosignatures' : ''}, consistency, tiles, bundles`,
  );
  const e = r.entries;
  const kinds = Object.entries(e.byKind)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  lines.push(
    `  entries      ${e.parsed} of ${e.total} parsed${kinds ? ` (${kinds})` : ''}; evidence verified again: ${e.evidenceVerified}`,
  );
  if (chain) {
    lines.push(
      `  anchors      ${chain.anchors.ours} of this log (${chain.anchors.checked} checked against the tree), ${chain.anchors.others} of other logs`,
    );
    lines.push(`  executors    ${chain.executors.logged} of ${chain.executors.total} with logged evidence`);
    lines.push(`  leases       ${chain.leases.logged} of ${chain.leases.total} with logged evidence`);
    lines.push(`  verdicts     ${chain.verdicts.logged} of ${chain.verdicts.total} revealed verdicts logged`);
  }
  if (receipts)
    lines.push(
      `  receipts     ${receipts.logged} of ${receipts.total} signed by a logged enclave over logged evidence`,
    );
  if (trustedFile)
    lines.push(
      `  trusted file ${trustedFile}: ${advanced ? 'advanced to this checkpoint' : r.treeVerified ? 'unchanged' : 'NOT advanced'}`,
    );
  if (findings.length === 0) lines.push('clean: no findings');
  else {
    lines.push(`${findings.length} finding${findings.length === 1 ? '' : 's'}:`);
    for (const f of findings.slice(0, 50))
      lines.push(
        `  ${f.code}${f.index !== undefined ? ` entry ${f.index}` : ''}${f.path ? ` (${f.path})` : ''}: ${f.message}`,
      );
    if (findings.length > 50) lines.push(`  … and ${findings.length - 50} more (--json lists all)`);
  }
  return lines.join('\n');
}

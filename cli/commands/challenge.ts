import { writeFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import { getBytes } from 'ethers';
import { MAX_CHALLENGE_N } from '../../protocol/challenge-matrices.js';
import { connect } from '../../sdk/index.js';
import { sessionChallengeChannel } from '../../sdk/session/challenge.js';
import { runChallenge } from '../../verifier/challenge.js';
import { serializeEvidence } from '../../verifier/evidence.js';
import { hostPortArg, integerArg, uint256Arg } from '../args.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { readPolicy, readPrivateKey } from '../files.js';
import { action, printResult } from '../output.js';

interface ChallengeOptions {
  endpoint: string;
  policy: string;
  n: number;
  gflops: number;
  key: string;
  lease?: bigint;
  evidenceOut?: string;
  timeoutMs: number;
  json?: boolean;
}

function gflopsArg(v: string): number {
  const x = Number(v);
  if (!/^[0-9]*\.?[0-9]+(e[-+]?[0-9]+)?$/i.test(v) || !(x > 0) || !Number.isFinite(x))
    throw new InvalidArgumentError('Expected a positive number of GFLOP/s.');
  return x;
}

export function registerChallenge(program: Command): void {
  program
    .command('challenge')
    .description(
      'run one capacity challenge against an executor as a witness: it multiplies two matrices from a fresh seed within a deadline set by the claimed GFLOP/s, then opens the product for a randomized check (docs/witness.md, "Capacity challenges")',
    )
    .requiredOption('--endpoint <host:port>', 'executor gRPC address', hostPortArg)
    .requiredOption('--policy <file>', 'attestation policy JSON')
    .requiredOption('--n <n>', `matrix size, 1..${MAX_CHALLENGE_N}`, integerArg(1, MAX_CHALLENGE_N))
    .requiredOption('--gflops <claimed>', "the lease's claimed capacity in GFLOP/s", gflopsArg)
    .requiredOption('--key <file>', 'private key file (one line of hex) of the witness wallet')
    .option(
      '--lease <id>',
      'lease challenged (uint256, decimal; default 0: a standalone executor)',
      uint256Arg,
    )
    .option(
      '--timeout-ms <ms>',
      'how long any one request (handshake, challenge, opening) may take before the executor counts as unreachable',
      integerArg(1),
      60_000,
    )
    .option('--evidence-out <file>', 'where to write the evidence bundle when the verdict is wrong')
    .option(
      '--json',
      'print one JSON object: verdict, reason, code, n, claimedGflops, rttP95Ms, deadlineMs, commitMs, computedMs, measuredGflops, enclave, evidencePath',
    )
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}For this command: 0 pass; 1 late (capacity unverified) or wrong (fraud: the bundle goes to\n` +
        '--evidence-out); 2 usage; 3 the executor cannot be reached; 4 the executor refused the challenge.\n' +
        'Example:\n  defaas challenge --endpoint 127.0.0.1:7443 --policy policy.json --n 256 --gflops 0.5 --key witness.key --json',
    )
    .action(action(challenge));
}

async function challenge(json: boolean, o: ChallengeOptions): Promise<ExitCode> {
  const policy = await readPolicy(o.policy);
  const key = getBytes(await readPrivateKey(o.key));
  const session = await connect(o.endpoint, { policy, deadlineMs: o.timeoutMs });
  try {
    const ch = sessionChallengeChannel(session);
    const r = await runChallenge(ch, {
      witnessKey: key,
      leaseId: o.lease ?? 0n,
      n: o.n,
      claimedGflops: o.gflops,
    });
    let evidencePath: string | undefined;
    if (r.evidence && o.evidenceOut) {
      await writeFile(o.evidenceOut, serializeEvidence(r.evidence));
      evidencePath = o.evidenceOut;
    }
    const fields = {
      verdict: r.verdict,
      reason: r.reason,
      ...(r.code !== undefined && { code: r.code }),
      n: r.n,
      claimedGflops: r.claimedGflops,
      rttP95Ms: round(r.rttP95Ms),
      deadlineMs: round(r.deadlineMs),
      ...(r.commitMs !== undefined && { commitMs: round(r.commitMs) }),
      ...(r.computedMs !== undefined && { computedMs: r.computedMs }),
      ...(r.measuredGflops !== undefined && { measuredGflops: round(r.measuredGflops) }),
      enclave: ch.enclaveAddress,
      ...(evidencePath !== undefined && { evidencePath }),
    };
    const text =
      `${r.verdict}: ${r.reason}\n` +
      `  n ${r.n}, deadline ${round(r.deadlineMs)} ms, commitment after ${r.commitMs === undefined ? '-' : round(r.commitMs)} ms` +
      `${r.measuredGflops === undefined ? '' : `, ${round(r.measuredGflops)} GFLOP/s measured`}` +
      `${evidencePath ? `\n  evidence: ${evidencePath}` : ''}`;
    printResult(json, fields, text);
    switch (r.verdict) {
      case 'pass':
        return EXIT.OK;
      case 'late':
      case 'wrong':
        return EXIT.VERIFICATION_FAILED;
      case 'unreachable':
        return EXIT.TRANSIENT;
      case 'refused':
        return EXIT.REFUSED;
    }
  } finally {
    await session.close();
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { Wallet } from 'ethers';
import type { Policy } from '../../attestation/policy.js';
import { eip712Domain } from '../../protocol/typed-data.js';
import {
  connect,
  connectLease,
  type DefaasError,
  type EnclaveIdentityPin,
  isDefaasError,
  type LeaseDeployment,
  LocalReceiptStore,
  type ReceiptMode,
} from '../../sdk/index.js';
import { addressArg, hash32Arg, hostPortArg, httpUrlArg, uint256Arg } from '../args.js';
import { DEFAULT_DEPLOYMENT } from '../chain-flags.js';
import { UsageError } from '../errors.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { addFetchFlags, type FetchFlags, fetchOptions } from '../fetch-options.js';
import { readBytes, readDeployment, readPolicy, readPrivateKey } from '../files.js';
import { formatLimits, limitsJson } from '../limits.js';
import { action, hex, printResult, reportFailure } from '../output.js';
import { DEFAULT_STATE_DIR } from './executor.js';

/** Where `chain up` writes the deployment (as the market commands read it). */

interface InvokeOptions extends FetchFlags {
  endpoint?: string;
  rpc?: string;
  deployment: string;
  wasm: string;
  input?: string;
  inputFile?: string;
  lease?: bigint;
  key?: string;
  policy?: string;
  identity?: string;
  evidenceHash?: Uint8Array;
  json?: boolean;
  verbose?: boolean;
  mode: 'normal' | 'fresh';
  receipts: ReceiptMode;
  store?: string;
}

export function registerInvoke(program: Command): void {
  const cmd = program
    .command('invoke')
    .description(
      'open an attested session to an executor, deploy a WASM function (encrypted to the enclave), invoke it once, and print the output with its verified receipt',
    )
    .addOption(
      new Option('--endpoint <host:port>', 'executor gRPC address (or find it on chain: --lease with --rpc)')
        .argParser(hostPortArg)
        .conflicts('rpc'),
    )
    .addOption(
      new Option(
        '--rpc <url>',
        "the chain's JSON-RPC endpoint: the executor of --lease is read from Settlement and the Registry, its enclave and evidence hash pinned, vouchers signed under the deployment's domain",
      )
        .argParser(httpUrlArg)
        .conflicts(['identity', 'evidenceHash']),
    )
    .option(
      '--deployment <file>',
      'deployment file written by `defaas chain up` (with --rpc)',
      DEFAULT_DEPLOYMENT,
    )
    .requiredOption('--wasm <file>', 'WASI preview 1 command module (input on stdin, output on stdout)')
    .addOption(new Option('--input <text>', 'input as UTF-8 text').conflicts('inputFile'))
    .option('--input-file <path>', 'input bytes from a file')
    .option(
      '--lease <id>',
      'require the executor to serve this lease (uint256, decimal; default: accept the one it presents); with --rpc, the lease whose executor to call',
      uint256Arg,
    )
    .option(
      '--key <file>',
      'private key file (one line of hex) of the wallet that signs vouchers (default: a new random wallet)',
    )
    .option(
      '--policy <file>',
      `attestation policy JSON (default: ${DEFAULT_STATE_DIR}/policy.json, if present)`,
    )
    .option(
      '--identity <address>',
      'pin the enclave: its identity address (from the chain, `executor start` or an earlier --json)',
      addressArg,
    )
    .option(
      '--evidence-hash <hex>',
      'pin the enclave: the SHA-256 of the evidence it presents (32 bytes of hex)',
      hash32Arg,
    )
    .addOption(
      new Option('--mode <mode>', 'session mode: normal, or fresh (a new quote bound to this handshake)')
        .choices(['normal', 'fresh'])
        .default('normal'),
    )
    .addOption(
      new Option('--receipts <mode>', 'a receipt per call, or per batch')
        .choices(['per-call', 'batched'])
        .default('per-call'),
    )
    .option('--store <file>', 'append the verified receipt, records and voucher to this JSON-lines file');
  addFetchFlags(
    cmd,
    'fetch collateral the executor did not present: Intel PCS for a TDX quote, AMD KDS for an SEV-SNP report (network)',
  )
    .option(
      '--json',
      'print one JSON object: output (0x-hex), outputText, stderr, stderrTruncatedBytes, limits, functionId, ' +
        'wallet, nonce, enclave {identity, evidenceHash, tee}, receipt, receiptVerified',
    )
    .option('--verbose', "also print the executor's signed limits (human output)")
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}An executor whose evidence the policy refuses, or that refuses the call, exits 4; one that fails\n` +
        'verification (or is not the pinned --identity / --evidence-hash: IDENTITY_MISMATCH) exits 1; a function\n' +
        'that traps or exits non-zero exits 5, after its partial output and stderr.\n' +
        'Examples:\n  defaas invoke --endpoint 127.0.0.1:7443 --wasm examples/build/sha256.wasm --input hello --json\n' +
        '  defaas invoke --lease 1 --rpc http://127.0.0.1:8545 --key customer.key --wasm examples/build/sha256.wasm --input hello',
    )
    .action(action(invoke));
}

/** The --policy file, else the dev policy an `executor start --tee simulated` in this folder wrote. */
async function policyOf(o: InvokeOptions): Promise<Policy> {
  if (o.policy !== undefined) return readPolicy(o.policy);
  const dev = join(DEFAULT_STATE_DIR, 'policy.json');
  const found = await access(dev).then(
    () => true,
    () => false,
  );
  if (!found)
    throw new UsageError(
      'no --policy given and no dev policy found: an executor must be verified against a policy',
      'MISSING_ARGUMENT',
    );
  return readPolicy(dev);
}

/** Where to invoke: --endpoint, or the executor of --lease found on the chain at --rpc. */
async function targetOf(
  o: InvokeOptions,
): Promise<{ endpoint: string } | { rpc: string; deployment: LeaseDeployment; leaseId: bigint }> {
  if (o.rpc === undefined && (o.endpoint !== undefined || o.lease === undefined)) {
    if (o.endpoint === undefined)
      throw new UsageError(
        'give --endpoint, or --lease (its executor is found on chain)',
        'MISSING_ARGUMENT',
        {
          flag: '--endpoint',
        },
      );
    return { endpoint: o.endpoint };
  }
  if (o.lease === undefined)
    throw new UsageError('--rpc finds the executor of a lease: give --lease', 'MISSING_ARGUMENT', {
      flag: '--lease',
    });
  // --lease alone: the chain is the deployment file's (its rpcUrl), as for the other chain commands.
  const deployment = await readDeployment(o.deployment);
  const rpc = o.rpc ?? deployment.rpcUrl;
  if (rpc === undefined)
    throw new UsageError(`give --rpc <url>: ${o.deployment} names no rpcUrl`, 'MISSING_ARGUMENT', {
      flag: '--rpc',
    });
  return { rpc, deployment, leaseId: o.lease };
}

function identityPin(o: InvokeOptions): EnclaveIdentityPin | undefined {
  if (o.identity === undefined && o.evidenceHash === undefined) return undefined;
  return {
    ...(o.identity !== undefined && { address: o.identity }),
    ...(o.evidenceHash !== undefined && { evidenceHash: o.evidenceHash }),
  };
}

async function invoke(json: boolean, o: InvokeOptions): Promise<ExitCode> {
  if (o.input === undefined && o.inputFile === undefined)
    throw new UsageError('give one of --input and --input-file', 'MISSING_ARGUMENT');
  const target = await targetOf(o);
  const policy = await policyOf(o);
  const wasm = await readBytes(o.wasm, '--wasm');
  const input =
    o.input !== undefined ? Buffer.from(o.input, 'utf8') : await readBytes(o.inputFile!, '--input-file');
  const wallet = o.key ? new Wallet(await readPrivateKey(o.key)) : Wallet.createRandom();
  const identity = identityPin(o);
  const store = new LocalReceiptStore(o.store ? { file: o.store } : {});
  try {
    const common = {
      policy,
      mode: o.mode,
      receipts: o.receipts,
      store,
      ...(o.fetch && { fetchCollateral: fetchOptions(o) }),
    };
    const session =
      'endpoint' in target
        ? await connect(target.endpoint, {
            ...common,
            ...(identity && { identity }),
            ...(o.lease !== undefined && { leaseId: o.lease }),
          })
        : await connectLease({
            ...common,
            rpc: target.rpc,
            deployment: target.deployment,
            leaseId: target.leaseId,
          });
    try {
      const fn = await session.deploy(wasm);
      const limits = limitsJson(session.terms.limits);
      if (o.verbose && !json)
        process.stderr.write(`executor limits: ${formatLimits(session.terms.limits)}\n`);
      let result: Awaited<ReturnType<typeof session.invoke>>;
      try {
        result = await session.invoke(fn, input, { wallet });
      } catch (e) {
        if (isDefaasError(e) && e.call) return await reportCallFailure(json, e, limits);
        throw e;
      }
      const { output, stderr, stderrTruncatedBytes, record, receipt } = result;
      const text = utf8(output);
      const a = session.accepted;
      if (!json) writeStderr(stderr, stderrTruncatedBytes);
      printResult(
        json,
        {
          output,
          ...(text !== undefined && { outputText: text }),
          stderr: Buffer.from(stderr).toString('utf8'),
          stderrTruncatedBytes,
          limits,
          functionId: fn.hash,
          wallet: wallet.address,
          nonce: record.nonce,
          enclave: {
            identity: a.identityAddress,
            evidenceHash: a.verified.evidenceHash,
            tee: a.verified.tee,
          },
          receipt: {
            typedData: {
              domain: eip712Domain(receipt.domain),
              primaryType: 'Receipt',
              message: receipt.receipt,
            },
            signature: receipt.signature,
            signer: receipt.signer,
            records: receipt.records,
          },
          receiptVerified: true,
        },
        text !== undefined ? text : Buffer.from(output).toString('base64'),
      );
      if (!json) {
        const r = receipt.receipt;
        process.stderr.write(
          `receipt verified: lease ${r.leaseId}, nonces ${r.firstNonce}..${r.lastNonce}, signed by enclave ${receipt.signer}\n` +
            `  function ${fn.hash}\n  record head ${r.recordHead}\n  signature ${hex(receipt.signature)}\n`,
        );
      }
      return EXIT.OK;
    } finally {
      await session.close();
    }
  } finally {
    await store.close();
  }
}

/** The function's stderr on the terminal's stderr, each line marked as the function's. */
function writeStderr(stderr: Uint8Array, truncated: number): void {
  if (stderr.length === 0 && truncated === 0) return;
  const text = Buffer.from(stderr).toString('utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const l of lines) process.stderr.write(`[function stderr] ${l}\n`);
  if (truncated > 0)
    process.stderr.write(`[function stderr] … ${truncated} more bytes dropped by the executor\n`);
}

/**
 * A call that ran but did not succeed: the function failed (what it wrote before failing, sealed by
 * the enclave, goes out with the error), or its answer was lost (CALL_OUTPUT_LOST). Either way the
 * call is charged, and its verified record and receipt go out too: in the failure object under
 * --json, else on stdout and stderr before the error line.
 */
async function reportCallFailure(
  json: boolean,
  e: DefaasError,
  limits: ReturnType<typeof limitsJson>,
): Promise<ExitCode> {
  const call = e.call!;
  const receipt = await Promise.resolve(call.receipt).catch(() => undefined);
  const out = e.functionOutput;
  const text = out && utf8(out.stdout);
  if (!json && out) {
    writeStderr(out.stderr, out.stderrTruncatedBytes);
    if (out.stdout.length > 0) {
      process.stdout.write(Buffer.from(out.stdout));
      if (out.stdout[out.stdout.length - 1] !== 0x0a) process.stdout.write('\n');
    }
  }
  return reportFailure(e, json, {
    fields: {
      ...(out && {
        output: out.stdout,
        ...(text !== undefined && { outputText: text }),
        stderr: Buffer.from(out.stderr).toString('utf8'),
        stderrTruncatedBytes: out.stderrTruncatedBytes,
      }),
      limits,
      nonce: call.record.nonce,
      record: call.record,
      receiptVerified: receipt !== undefined,
    },
    lines: [
      `the call ran and is charged: nonce ${call.record.nonce}, ${receipt ? `receipt verified (nonces ${receipt.receipt.firstNonce}..${receipt.receipt.lastNonce})` : 'no receipt'}`,
    ],
  });
}

function utf8(b: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return undefined;
  }
}

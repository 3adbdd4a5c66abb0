import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Wallet } from 'ethers';
import { toHex } from '../../attestation/bytes.js';
import { isAttestationError } from '../../attestation/errors.js';
import { parsePolicy } from '../../attestation/policy.js';
import { typedDataJson } from '../../protocol/typed-data.js';
import {
  connect,
  type DefaasError,
  isDefaasError,
  LocalReceiptStore,
  type ReceiptMode,
} from '../../sdk/index.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { addFetchFlags, type FetchFlags, fetchOptions } from '../fetch-options.js';
import { readBytes, readText } from '../files.js';
import { formatLimits, limitsJson } from '../limits.js';
import { DEFAULT_STATE_DIR } from './executor.js';

interface InvokeOptions extends FetchFlags {
  endpoint: string;
  wasm: string;
  input?: string;
  inputFile?: string;
  lease?: string;
  key?: string;
  policy?: string;
  json?: boolean;
  verbose?: boolean;
  mode: string;
  receipts: string;
  store?: string;
}

export function registerInvoke(program: Command): void {
  const cmd = program
    .command('invoke')
    .description(
      'open an attested session to an executor, deploy a WASM function (encrypted to the enclave), invoke it once, and print the output with its verified receipt',
    )
    .requiredOption('--endpoint <host:port>', 'executor gRPC address')
    .requiredOption('--wasm <file>', 'WASI preview 1 command module (input on stdin, output on stdout)')
    .option('--input <text>', 'input as UTF-8 text')
    .option('--input-file <path>', 'input bytes from a file')
    .option('--lease <id>', 'require the executor to serve this lease (default: accept the one it presents)')
    .option('--key <file>', 'wallet private key (hex) that signs vouchers (default: a new random wallet)')
    .option(
      '--policy <file>',
      `attestation policy JSON (default: ${DEFAULT_STATE_DIR}/policy.json, if present)`,
    )
    .option('--mode <mode>', 'session mode: normal, or fresh (a new quote bound to this handshake)', 'normal')
    .option('--receipts <mode>', 'per-call or batched', 'per-call')
    .option('--store <file>', 'append the verified receipt, records and voucher to this JSON-lines file');
  addFetchFlags(
    cmd,
    'fetch collateral the executor did not present: Intel PCS for a TDX quote, AMD KDS for an SEV-SNP report (network)',
  )
    .option(
      '--json',
      "print one JSON object: output (base64), outputText, stderr, stderrTruncatedBytes, limits (the executor's signed limits), receipt, receiptVerified",
    )
    .option('--verbose', "also print the executor's signed limits (human output)")
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 rejected (the stable error code is in the message), 2 usage error, 3 transient.\n' +
        'Example:\n  defaas invoke --endpoint 127.0.0.1:7443 --wasm examples/build/sha256.wasm --input hello --json',
    )
    .action(async (o: InvokeOptions) => {
      process.exitCode = await invoke(o);
    });
}

async function invoke(o: InvokeOptions): Promise<number> {
  if ((o.input === undefined) === (o.inputFile === undefined))
    throw new UsageError('give exactly one of --input and --input-file');
  if (o.mode !== 'normal' && o.mode !== 'fresh') throw new UsageError('--mode must be normal or fresh');
  if (o.receipts !== 'per-call' && o.receipts !== 'batched')
    throw new UsageError('--receipts must be per-call or batched');
  if (o.lease !== undefined && !/^[0-9]{1,78}$/.test(o.lease))
    throw new UsageError('--lease must be a decimal integer');
  let policyPath = o.policy;
  if (policyPath === undefined) {
    const dev = join(DEFAULT_STATE_DIR, 'policy.json');
    if (
      !(await access(dev).then(
        () => true,
        () => false,
      ))
    )
      throw new UsageError(
        'no --policy given and no dev policy found: an executor must be verified against a policy',
      );
    policyPath = dev;
  }
  let policy: ReturnType<typeof parsePolicy>;
  try {
    policy = parsePolicy(await readText(policyPath, '--policy'));
  } catch (e) {
    if (isAttestationError(e)) throw new UsageError(`${policyPath}: ${e.message}`);
    throw e;
  }
  const wasm = await readBytes(o.wasm, '--wasm');
  const input =
    o.input !== undefined ? Buffer.from(o.input, 'utf8') : await readBytes(o.inputFile!, '--input-file');
  const wallet = o.key ? new Wallet((await readText(o.key, '--key')).trim()) : Wallet.createRandom();
  const store = new LocalReceiptStore(o.store ? { file: o.store } : {});
  try {
    const session = await connect(o.endpoint, {
      policy,
      mode: o.mode,
      receipts: o.receipts as ReceiptMode,
      store,
      ...(o.lease !== undefined && { leaseId: BigInt(o.lease) }),
      ...(o.fetch && { fetchCollateral: fetchOptions(o) }),
    });
    try {
      const fn = await session.deploy(wasm);
      const limits = limitsJson(session.terms.limits);
      if (o.verbose && !o.json)
        process.stderr.write(`executor limits: ${formatLimits(session.terms.limits)}\n`);
      let result: Awaited<ReturnType<typeof session.invoke>>;
      try {
        result = await session.invoke(fn, input, { wallet });
      } catch (e) {
        if (isDefaasError(e) && e.functionOutput) reportFailedOutput(o, e, limits);
        throw e;
      }
      const { output, stderr, stderrTruncatedBytes, record, receipt } = result;
      const text = utf8(output);
      const receiptJson = {
        typedData: {
          domain: {
            name: 'defaas Settlement',
            version: '1',
            chainId: receipt.domain.chainId.toString(),
            verifyingContract: receipt.domain.verifyingContract,
          },
          primaryType: 'Receipt',
          message: typedDataJson(receipt.receipt),
        },
        signature: `0x${toHex(receipt.signature)}`,
        signer: receipt.signer,
        records: receipt.records.map(typedDataJson),
      };
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({
            output: Buffer.from(output).toString('base64'),
            ...(text !== undefined && { outputText: text }),
            stderr: Buffer.from(stderr).toString('utf8'),
            stderrTruncatedBytes,
            limits,
            functionId: fn.id,
            wallet: wallet.address,
            nonce: record.nonce.toString(),
            receipt: receiptJson,
            receiptVerified: true,
          })}\n`,
        );
      } else {
        writeStderr(stderr, stderrTruncatedBytes);
        process.stdout.write(text !== undefined ? text : `${Buffer.from(output).toString('base64')}\n`);
        if (text !== undefined && !text.endsWith('\n')) process.stdout.write('\n');
        const r = receipt.receipt;
        process.stderr.write(
          `receipt verified: lease ${r.leaseId}, nonces ${r.firstNonce}..${r.lastNonce}, signed by enclave ${receipt.signer}\n` +
            `  function ${fn.id}\n  record head ${r.recordHead}\n  signature 0x${toHex(receipt.signature)}\n`,
        );
      }
      return EXIT.OK;
    } finally {
      await session.close();
    }
  } catch (e) {
    if (!isDefaasError(e)) throw e;
    process.stderr.write(`defaas: ${e.message}\n`);
    return e.kind === 'transient' ? EXIT.TRANSIENT : e.kind === 'usage' ? EXIT.USAGE : EXIT.REJECTED;
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

/** A function failure: what it wrote before failing (sealed by the enclave) goes out before the error. */
function reportFailedOutput(o: InvokeOptions, e: DefaasError, limits: ReturnType<typeof limitsJson>): void {
  const out = e.functionOutput!;
  if (o.json) {
    process.stdout.write(
      `${JSON.stringify({
        error: { code: e.code, message: e.message },
        output: Buffer.from(out.stdout).toString('base64'),
        stderr: Buffer.from(out.stderr).toString('utf8'),
        stderrTruncatedBytes: out.stderrTruncatedBytes,
        limits,
      })}\n`,
    );
    return;
  }
  writeStderr(out.stderr, out.stderrTruncatedBytes);
  if (out.stdout.length === 0) return;
  process.stdout.write(Buffer.from(out.stdout));
  if (out.stdout[out.stdout.length - 1] !== 0x0a) process.stdout.write('\n');
}

function utf8(b: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return undefined;
  }
}

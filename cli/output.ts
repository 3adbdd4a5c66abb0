import { type Command, CommanderError } from 'commander';
import { toHex } from '../attestation/bytes.js';
import { CodedError } from '../attestation/errors.js';
import { COMMANDER_CODES } from './errors.js';
import { EXIT, type ExitCode, exitCodeFor } from './exit-codes.js';

/*
 * What every command prints, and where:
 * - with --json, stdout carries exactly one JSON object: `{ok: true, ...result}` on success,
 *   `{ok: false, code, kind, message, info?, ...details}` on failure; progress and logs go to stderr;
 * - without it, the result is text on stdout, progress on stdout, and a failure is
 *   `defaas: CODE: message` (then indented detail lines) on stderr.
 * Values become JSON one way (jsonValue): bigint → decimal string, bytes → 0x-hex, Date → RFC 3339.
 */

/** 0x-prefixed lower-case hex: how bytes (hashes, signatures, measurements) leave the CLI. */
export function hex(b: Uint8Array): string {
  return `0x${toHex(b)}`;
}

/** The JSON form of a value: bigint → decimal string, bytes → 0x-hex, Date → ISO; undefined fields dropped. */
export function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return hex(v);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(jsonValue);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = jsonValue(x);
    return out;
  }
  return v;
}

/** One JSON object on one line. */
export function jsonLine(o: Record<string, unknown>): string {
  return `${JSON.stringify(jsonValue(o))}\n`;
}

/** A command's result: `{ok: true, ...result}` on stdout under --json, else `text` on stdout. */
export function printResult(json: boolean, result: Record<string, unknown>, text: string): void {
  if (json) process.stdout.write(jsonLine({ ok: true, ...result }));
  else if (text !== '') process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** A progress line: stdout for a person, stderr under --json (stdout then holds only the result). */
export function progress(json: boolean, line: string): void {
  (json ? process.stderr : process.stdout).write(`${line}\n`);
}

export interface ErrorFields {
  readonly code: string;
  readonly kind: string;
  readonly message: string;
  readonly info?: Record<string, unknown>;
}

/** The stable code, kind, message (without a repeated `CODE: ` prefix) and info of any error. */
export function errorFields(e: unknown): ErrorFields {
  if (e instanceof CodedError) {
    const prefix = `${e.code}: `;
    const message = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
    const info = Object.keys(e.info).length > 0 ? (jsonValue(e.info) as Record<string, unknown>) : undefined;
    return { code: e.code, kind: e.kind, message, ...(info && { info }) };
  }
  if (e instanceof CommanderError) {
    return {
      code: COMMANDER_CODES[e.code] ?? 'INVALID_ARGUMENT',
      kind: 'usage',
      message: e.code === 'commander.help' ? 'a subcommand is required' : e.message.replace(/^error: /, ''),
    };
  }
  return { code: 'INTERNAL', kind: 'internal', message: e instanceof Error ? e.message : String(e) };
}

export interface FailureDetails {
  /** Command-specific fields of the failure object (after code, kind, message, info). */
  readonly fields?: Record<string, unknown>;
  /** Lines printed under the error in text mode. */
  readonly lines?: readonly string[];
}

/** Reports a failure (once) and returns its exit code. */
export function reportFailure(e: unknown, json: boolean, details: FailureDetails = {}): ExitCode {
  const code = exitCodeFor(e);
  const f = errorFields(e);
  if (json) {
    process.stdout.write(jsonLine({ ok: false, ...f, ...details.fields }));
  } else {
    const lines = [`defaas: ${f.code}: ${f.message}`, ...(details.lines ?? []).map((l) => `  ${l}`)];
    if (code === EXIT.USAGE && f.code !== 'MISSING_COMMAND') lines.push('(run with --help for usage)');
    process.stderr.write(`${lines.join('\n')}\n`);
  }
  return code;
}

/**
 * A command's action: it resolves with its exit code (or nothing, for 0) after printing its result;
 * what it throws is reported here, once, in the same shape as every other command's failures. The
 * exit code goes to process.exitCode.
 */
export function action<A extends unknown[]>(
  run: (json: boolean, ...args: A) => Promise<ExitCode | undefined>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    // commander passes the positional arguments, then the options, then the command.
    const json = (args[args.length - 1] as Command).opts().json === true;
    try {
      process.exitCode = (await run(json, ...args)) ?? EXIT.OK;
    } catch (e) {
      process.exitCode = reportFailure(e, json);
    }
  };
}

import { CommanderError } from 'commander';
import { ATTESTATION_ERROR_KINDS, type AttestationErrorCode, CodedError } from '../attestation/errors.js';

/**
 * The exit codes of every `defaas` command. A refusal by policy (the evidence is genuine, the
 * relying party's rules say no; or the executor's rules refuse a request) is kept apart from a
 * failed verification (something is forged, broken or not what it claims to be).
 */
export const EXIT = {
  OK: 0,
  /** Verification failed: a signature, chain, collateral window or binding; malformed evidence; a protocol breach. */
  VERIFICATION_FAILED: 1,
  /** Wrong usage: unknown option, invalid value, missing or unreadable file. Fix the command line. */
  USAGE: 2,
  /** Transient: collateral, the executor or the chain cannot be reached now; retrying may succeed. */
  TRANSIENT: 3,
  /** Refused: the attestation policy refuses genuine evidence, or the executor's rules refuse the request. */
  REFUSED: 4,
  /** The function ran and failed (trap, exit status, a limit hit while running); the call is charged. */
  FUNCTION_FAILED: 5,
  /** Internal: an untyped error (a bug). sysexits.h EX_SOFTWARE. */
  INTERNAL: 70,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * Every error kind of every folder, to its exit code. The kinds of different folders that share a
 * name mean the same thing:
 * - AttestationError: malformed | verification | policy | transient | usage;
 * - DefaasError (SDK): attestation | protocol | function | rejected | transient | usage;
 * - SessionError and EnclaveHostError (the wire table): malformed | verification | rejected | session
 *   | unavailable | function (and usage);
 * - CliError: usage | transient | rejected | internal.
 * The SDK's `attestation` kind covers all of the attestation kinds: its code says which.
 */
const EXIT_BY_KIND: Readonly<Record<string, ExitCode>> = {
  malformed: EXIT.VERIFICATION_FAILED,
  verification: EXIT.VERIFICATION_FAILED,
  protocol: EXIT.VERIFICATION_FAILED,
  policy: EXIT.REFUSED,
  rejected: EXIT.REFUSED,
  function: EXIT.FUNCTION_FAILED,
  transient: EXIT.TRANSIENT,
  session: EXIT.TRANSIENT,
  unavailable: EXIT.TRANSIENT,
  usage: EXIT.USAGE,
  internal: EXIT.INTERNAL,
};

/** The exit code for a kind, refined by the code where the kind is the SDK's `attestation`. */
export function exitCodeForKind(kind: string, code?: string): ExitCode {
  if (kind === 'attestation')
    return code !== undefined && Object.hasOwn(ATTESTATION_ERROR_KINDS, code)
      ? exitCodeForKind(ATTESTATION_ERROR_KINDS[code as AttestationErrorCode])
      : EXIT.VERIFICATION_FAILED;
  return EXIT_BY_KIND[kind] ?? EXIT.INTERNAL;
}

/** The exit code for anything a command threw. */
export function exitCodeFor(e: unknown): ExitCode {
  if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  if (e instanceof CodedError) return exitCodeForKind(e.kind, e.code);
  return EXIT.INTERNAL;
}

/** The table for each command's --help. */
export const EXIT_CODES_HELP =
  '\nExit codes: 0 ok, 1 verification failed (signature, chain, malformed evidence, protocol breach),\n' +
  '2 usage error, 3 transient (retrying may succeed), 4 refused by policy or by the executor,\n' +
  '5 the function ran and failed, 70 internal error. With --json, stdout holds exactly one JSON object:\n' +
  '{"ok":true,…} or {"ok":false,"code","kind","message","info"?}.\n';

import { CodedError, type ErrorInfo } from '../attestation/errors.js';

/*
 * The CLI's own errors: what the command line itself gets wrong (flags, files, keys), what a command
 * cannot reach (a chain endpoint), how a customer's order ended when the market could not fill it
 * (`rejected`), and anything untyped that escaped (`internal`). The errors of the
 * other folders (AttestationError, DefaasError, SessionError, EnclaveHostError) pass through as they
 * are; exit-codes.ts maps every kind to one exit code.
 */
export type CliErrorKind = 'usage' | 'transient' | 'rejected' | 'internal';

/** Stable codes. Add new ones, never rename one: scripts match on them. */
export const CLI_ERROR_KINDS = {
  /** A flag's value, or a combination of flags, that the command cannot use. */
  INVALID_ARGUMENT: 'usage',
  /** A required argument or flag (or its value) is missing. */
  MISSING_ARGUMENT: 'usage',
  /** A command with subcommands was given none. */
  MISSING_COMMAND: 'usage',
  UNKNOWN_OPTION: 'usage',
  UNKNOWN_COMMAND: 'usage',
  EXCESS_ARGUMENTS: 'usage',
  CONFLICTING_OPTIONS: 'usage',
  /** A file named on the command line does not exist. */
  FILE_NOT_FOUND: 'usage',
  /** A file named on the command line cannot be read. */
  FILE_UNREADABLE: 'usage',
  /** A file or directory named on the command line cannot be written. */
  FILE_UNWRITABLE: 'usage',
  /** A file's content is not what its flag expects (a policy, a private key). */
  FILE_INVALID: 'usage',
  /** The chain's JSON-RPC endpoint cannot be reached, or the chain stopped. */
  CHAIN_UNAVAILABLE: 'transient',
  // The customer's orders (cli/customer/): how an order ended when it did not become a lease.
  /** Bidding closed with no revealed bid: the order failed and its escrow went back to the customer. */
  NO_BIDS: 'rejected',
  /** The order failed after bidding (no provider confirmed, or the deployment window passed). */
  ORDER_FAILED: 'rejected',
  /** The order was cancelled (by its customer) while it was followed. */
  ORDER_CANCELLED: 'rejected',
  /** The wallet cannot pay the gas of a transaction: fund it (`defaas chain fund --eth`). */
  NO_GAS_MONEY: 'rejected',
  /** A wait ran out of time; the order is left as it is on chain (`order status --wait` resumes). */
  WAIT_TIMEOUT: 'transient',
  /** The order id names no order, or one of another customer where the customer must act. */
  ORDER_UNKNOWN: 'usage',
  /** A step only the order's customer may take, asked with another key. */
  NOT_CUSTOMER: 'usage',
  /** The order is in a state where the asked step is not possible (e.g. cancel after a bid). */
  ORDER_WRONG_STATE: 'usage',
  /** Anything that is not a typed error: a bug, or a failure nothing classified. */
  INTERNAL: 'internal',
} as const satisfies Record<string, CliErrorKind>;

export type CliErrorCode = keyof typeof CLI_ERROR_KINDS;

export class CliError extends CodedError<CliErrorCode, CliErrorKind> {
  override readonly name: string = 'CliError';

  constructor(code: CliErrorCode, message: string, info?: ErrorInfo, cause?: unknown) {
    super(code, CLI_ERROR_KINDS[code], message, info, cause);
  }
}

/** The usage codes: the user can fix the command line. */
export type UsageCode = {
  [C in CliErrorCode]: (typeof CLI_ERROR_KINDS)[C] extends 'usage' ? C : never;
}[CliErrorCode];

/** A usage problem found by a command itself (a missing file, flags that do not go together). */
export class UsageError extends CliError {
  override readonly name: string = 'UsageError';

  constructor(message: string, code: UsageCode = 'INVALID_ARGUMENT', info?: ErrorInfo) {
    super(code, message, info);
  }
}

export function isCliError(e: unknown, code?: CliErrorCode): e is CliError {
  return e instanceof CliError && (code === undefined || e.code === code);
}

/** commander's error codes (`commander.*`), as the CLI's usage codes. */
export const COMMANDER_CODES: Readonly<Record<string, UsageCode>> = {
  'commander.unknownOption': 'UNKNOWN_OPTION',
  'commander.unknownCommand': 'UNKNOWN_COMMAND',
  'commander.missingArgument': 'MISSING_ARGUMENT',
  'commander.optionMissingArgument': 'MISSING_ARGUMENT',
  'commander.missingMandatoryOptionValue': 'MISSING_ARGUMENT',
  'commander.invalidArgument': 'INVALID_ARGUMENT',
  'commander.excessArguments': 'EXCESS_ARGUMENTS',
  'commander.conflictingOption': 'CONFLICTING_OPTIONS',
  'commander.help': 'MISSING_COMMAND',
};

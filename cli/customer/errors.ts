import { CodedError, type ErrorInfo } from '../../attestation/errors.js';

/*
 * The customer flow's errors: how an order ended when it did not become a lease, and a wait that ran
 * out of time. Kinds follow the CLI's table (cli/exit-codes.ts): an order the market could not fill is
 * `rejected` (exit 4); a wait that timed out is `transient` (exit 3: `order status --wait` resumes).
 */
export type CustomerErrorKind = 'rejected' | 'transient' | 'usage';

/** Stable codes. Add new ones, never rename one: scripts match on them. */
export const CUSTOMER_ERROR_KINDS = {
  /** Bidding closed with no revealed bid: the order failed and its escrow went back to the customer. */
  NO_BIDS: 'rejected',
  /** The order failed after bidding (no provider confirmed, or the deployment window passed). */
  ORDER_FAILED: 'rejected',
  /** The order was cancelled (by its customer) while it was followed. */
  ORDER_CANCELLED: 'rejected',
  /** The wallet cannot pay the gas of a transaction: fund it (`defaas chain fund --eth`). */
  NO_GAS_MONEY: 'rejected',
  /** The wait ran out of time; the order is left as it is on chain. */
  WAIT_TIMEOUT: 'transient',
  /** The order id names no order, or one of another customer where the customer must act. */
  ORDER_UNKNOWN: 'usage',
  /** A step only the order's customer may take, asked with another key. */
  NOT_CUSTOMER: 'usage',
  /** The order is in a state where the asked step is not possible (e.g. cancel after a bid). */
  ORDER_WRONG_STATE: 'usage',
} as const satisfies Record<string, CustomerErrorKind>;

export type CustomerErrorCode = keyof typeof CUSTOMER_ERROR_KINDS;

export class CustomerError extends CodedError<CustomerErrorCode, CustomerErrorKind> {
  override readonly name = 'CustomerError';

  constructor(code: CustomerErrorCode, message: string, info?: ErrorInfo, cause?: unknown) {
    super(code, CUSTOMER_ERROR_KINDS[code], message, info, cause);
  }
}

export function isCustomerError(e: unknown, code?: CustomerErrorCode): e is CustomerError {
  return e instanceof CustomerError && (code === undefined || e.code === code);
}

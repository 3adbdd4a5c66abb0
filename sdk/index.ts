export {
  type ProbeGrant,
  parseProbeGrantJson,
  probeGrantToJson,
  type SignedProbeGrant,
  signProbeGrant,
} from '../protocol/probe-grant.js';
export { type VerifiedReceipt, verifyReceipt } from '../protocol/receipts.js';
export { BALANCE_POLICIES, type BalancePolicy, balanceSeed, choose, type Draw, drawTwo } from './balance.js';
export { connect } from './connect.js';
export {
  type ConnectLeaseOptions,
  connectLease,
  type LeaseDeployment,
  type LeaseExecutor,
  leaseEndpoint,
  leaseExecutor,
} from './connect-lease.js';
export {
  type ChainSource,
  DEFAULT_PAGE,
  discover,
  type ExecutorInfo,
  type LevelInfo,
  levels,
  MAX_PAGE,
  type MarketDeployment,
  type MarketReadOptions,
  ORDER_STATES,
  type OrderInfo,
  type OrderStateName,
  orders,
  type Page,
  type Requirements,
  TEE_NAMES,
  type TeeName,
  validateRequirements,
} from './discover.js';
export {
  DefaasError,
  type DefaasErrorCode,
  type DefaasErrorKind,
  type FunctionOutput,
  isDefaasError,
} from './errors.js';
export { fetchGetter } from './http-getter.js';
export { type InvokeManyOptions, invokeMany, type ManyResult } from './invoke-many.js';
export {
  attemptsOf,
  type BlockRef,
  failoverDecision,
  LeasePool,
  type LeasePoolOptions,
  type MemberStatus,
  type PoolAttempt,
  type PoolInvokeOptions,
  type PoolInvokeResult,
  type PoolManyResult,
  type PoolMember,
  type PoolPlacement,
} from './lease-pool.js';
export { type LogReceipt, submitToLog } from './log-writer.js';
export type { Transport } from './session/channel.js';
export type { EnclaveIdentityPin } from './session/handshake.js';
export type {
  ConnectOptions,
  DeferredInvokeResult,
  FunctionHandle,
  InvokeOptions,
  InvokeResult,
  ReceiptMode,
  Session,
} from './session/session.js';
export { LocalReceiptStore, type ReceiptStore, type StoredSettlement, settlementJson } from './store.js';
export type { WalletLike } from './wallet.js';

import { JsonRpcProvider, type Provider } from 'ethers';
import { SettlementLeaseStatus } from '../contracts/bindings/enums.js';
import { connectRegistry } from '../contracts/bindings/registry.js';
import { connectSettlement } from '../contracts/bindings/settlement.js';
import { connect } from './connect.js';
import { type ChainSource, chainError, chainProvider } from './discover.js';
import { DefaasError } from './errors.js';
import type { ConnectOptions, Session } from './session/session.js';

/*
 * A session to the executor of a lease, found on chain: the lease's enclave and executor from
 * Settlement, that executor's endpoint and evidence hash from the Registry. The session pins the
 * enclave (identity address and evidence hash) and the deployment's EIP-712 domain, and requires the
 * executor to serve the lease; an executor that presents anything else is refused in the handshake.
 */

/** The deployment's chain id and the addresses connectLease reads. */
export interface LeaseDeployment {
  readonly chainId: number;
  readonly contracts: { readonly registry: string; readonly settlement: string };
}

export type ConnectLeaseOptions = ChainSource & {
  readonly deployment: LeaseDeployment;
  readonly leaseId: bigint;
} & Omit<ConnectOptions, 'leaseId' | 'domain' | 'identity'>;

/** What the chain says about a lease's executor. */
export interface LeaseExecutor {
  readonly leaseId: bigint;
  readonly executorId: bigint;
  /** The enclave identity address the lease is bound to (lowercase). */
  readonly enclave: string;
  /** The registered endpoint, as "host:port". */
  readonly endpoint: string;
  /** 0x-hex SHA-256 of the evidence the executor registered. */
  readonly evidenceHash: string;
  /** The customer's budget of the lease (token base units). */
  readonly budget: bigint;
}

const STATUS_NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(SettlementLeaseStatus).map(([k, v]) => [v.toString(), k.toLowerCase()]),
);

/** Longest endpoint accepted from the Registry (a DNS name and a port fit well within). */
const MAX_ENDPOINT_CHARS = 300;

/**
 * A Registry endpoint as "host:port" (a `grpc://` prefix is accepted): the provider wrote it, so
 * anything else (another scheme, a path, credentials, no or a bad port) is EXECUTOR_ENDPOINT_INVALID.
 */
export function leaseEndpoint(raw: string): string {
  const bad = (why: string) =>
    new DefaasError(
      'EXECUTOR_ENDPOINT_INVALID',
      `the registered endpoint ${JSON.stringify(raw.slice(0, 80))} ${why}`,
      {
        endpoint: raw.slice(0, MAX_ENDPOINT_CHARS),
      },
    );
  if (raw.length === 0 || raw.length > MAX_ENDPOINT_CHARS)
    throw bad(`is not 1 to ${MAX_ENDPOINT_CHARS} characters`);
  const hostPort = raw.startsWith('grpc://') ? raw.slice('grpc://'.length) : raw;
  // host: a DNS name or IPv4 address, or an IPv6 address in brackets; then the port.
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):([0-9]{1,5})$/.exec(hostPort);
  if (!m) throw bad('is not host:port (optionally grpc://host:port)');
  const port = Number(m[2]);
  if (port < 1 || port > 65_535) throw bad('has a port outside 1..65535');
  return hostPort;
}

/** Reads a lease's executor from the chain (see LeaseExecutor); LEASE_NOT_OPEN unless the lease is Open. */
export async function leaseExecutor(
  o: ChainSource & { readonly deployment: LeaseDeployment; readonly leaseId: bigint },
): Promise<LeaseExecutor> {
  if (o.leaseId < 1n || o.leaseId >= 1n << 256n)
    throw new DefaasError('SDK_INVALID_ARGUMENT', 'leaseId must be a uint256 of at least 1', {
      leaseId: o.leaseId.toString(),
    });
  const { provider, own, where } = chainProvider(o, o.deployment.chainId);
  try {
    await checkChainId(provider, BigInt(o.deployment.chainId), where);
    const settlement = connectSettlement(o.deployment.contracts.settlement, provider);
    const lease = await settlement.lease(o.leaseId);
    if (lease.status !== SettlementLeaseStatus.Open)
      throw new DefaasError(
        'LEASE_NOT_OPEN',
        `lease ${o.leaseId} is ${STATUS_NAMES[lease.status.toString()] ?? lease.status}, not open`,
        {
          leaseId: o.leaseId.toString(),
          status: STATUS_NAMES[lease.status.toString()] ?? lease.status.toString(),
        },
      );
    const registry = connectRegistry(o.deployment.contracts.registry, provider);
    const e = await registry.executor(lease.executorId);
    const enclave = lease.enclave.toLowerCase();
    if (e.enclave.toLowerCase() !== enclave)
      throw new DefaasError(
        'CHAIN_UNEXPECTED_ANSWER',
        `lease ${o.leaseId} is bound to enclave ${enclave}, but its executor ${lease.executorId} is registered with ${e.enclave.toLowerCase()}`,
        { leaseId: o.leaseId.toString(), executorId: lease.executorId.toString() },
      );
    return {
      leaseId: o.leaseId,
      executorId: lease.executorId,
      enclave,
      endpoint: leaseEndpoint(e.endpoint),
      evidenceHash: e.evidenceHash.toLowerCase(),
      budget: lease.budget,
    };
  } catch (e) {
    throw chainError(e, where);
  } finally {
    own?.destroy();
  }
}

/** The endpoint's own chain id must be the deployment's (a deployment file used against another chain). */
async function checkChainId(provider: Provider, expected: bigint, where: string): Promise<void> {
  const got =
    provider instanceof JsonRpcProvider
      ? BigInt((await provider.send('eth_chainId', [])) as string)
      : (await provider.getNetwork()).chainId;
  if (got !== expected)
    throw new DefaasError(
      'CHAIN_UNEXPECTED_ANSWER',
      `${where} is chain ${got}, but the deployment is on chain ${expected}`,
      { expected: expected.toString(), got: got.toString() },
    );
}

/**
 * Opens a session to the executor of lease `leaseId`, found on chain (`leaseExecutor`): it must
 * serve that lease, be the lease's enclave with the evidence hash the Registry holds
 * (IDENTITY_MISMATCH otherwise), and vouchers are signed under the deployment's Settlement domain.
 * Chain failures are CHAIN_UNAVAILABLE / CHAIN_UNEXPECTED_ANSWER; a lease that is not open,
 * LEASE_NOT_OPEN.
 */
export async function connectLease(o: ConnectLeaseOptions): Promise<Session> {
  const { deployment, leaseId } = o;
  const x = await leaseExecutor(o);
  const opts: ConnectOptions & Record<string, unknown> = { ...o };
  delete opts.provider;
  delete opts.rpc;
  delete opts.deployment;
  return connect(x.endpoint, {
    ...(opts as ConnectOptions),
    leaseId,
    domain: {
      chainId: BigInt(deployment.chainId),
      verifyingContract: deployment.contracts.settlement.toLowerCase(),
    },
    identity: { address: x.enclave, evidenceHash: x.evidenceHash },
  });
}

/*
 * `defaas order post|status|cancel`: the customer's side of the market on any EVM JSON-RPC endpoint.
 * `post` approves the Market for the escrow when needed and posts the order; with --wait it follows
 * the order through the auction to a started lease (cli/customer/order-follow.ts). `status` reads an
 * order and says what comes next (with --wait it resumes following it). `cancel` takes back an order
 * nobody bid on.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { formatEther } from 'ethers';
import { MarketState } from '../../contracts/bindings/index.js';
import { integerArg, uint256Arg } from '../args.js';
import { chainFlags } from '../chain-flags.js';
import { type CustomerChain, openChain, reading } from '../customer/chain.js';
import type { LeaseInfo } from '../customer/lease-info.js';
import { followOrder } from '../customer/order-follow.js';
import { type OrderTerms, postOrder } from '../customer/order-post.js';
import { type OrderStatus, orderOf, readOrderStatus, stateName } from '../customer/order-status.js';
import { sendTx } from '../customer/send.js';
import { CliError, UsageError } from '../errors.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { privateKeyFromEnv, readDeployment, readPrivateKey } from '../files.js';
import { action, printResult } from '../output.js';

const KEY_ENV = 'DEFAAS_CUSTOMER_KEY';
/** The default bound on --wait: long enough for DEFAULT_PARAMS' hour-long windows. */
const DEFAULT_TIMEOUT_S = 4 * 3600;

interface ChainFlags {
  rpc?: string;
  deployment: string;
  key?: string;
}

interface WaitFlags {
  wait?: boolean;
  timeout: number;
  pollMs: number;
}

/** Progress goes to stderr, whether or not --json: stdout holds only the result. */
function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The deployment file, the endpoint (--rpc, else the file's rpcUrl) and the customer's key, if any. */
async function open(o: ChainFlags, needKey: boolean): Promise<CustomerChain> {
  const deployment = await readDeployment(o.deployment);
  const rpc = o.rpc ?? deployment.rpcUrl;
  if (rpc === undefined)
    throw new UsageError(`--rpc is needed: ${o.deployment} has no rpcUrl`, 'MISSING_ARGUMENT', {
      flag: '--rpc',
    });
  const key = o.key !== undefined ? await readPrivateKey(o.key) : privateKeyFromEnv(KEY_ENV);
  if (key === undefined && needKey)
    throw new UsageError(`give the customer's key with --key <file> or $${KEY_ENV}`, 'MISSING_ARGUMENT', {
      flag: '--key',
    });
  return openChain({
    rpc,
    deployment,
    ...(key !== undefined && { privateKey: key }),
    onRetry: (label, attempt, e) =>
      progress(`${label}: attempt ${attempt + 1} after ${e instanceof Error ? e.message : String(e)}`),
  });
}

/** `size/majority`, e.g. 5/3. */
function committeeArg(v: string): { size: number; majority: number } {
  const m = /^([0-9]{1,3})\/([0-9]{1,3})$/.exec(v);
  if (!m) throw new InvalidArgumentError('Expected size/majority, e.g. 5/3.');
  return { size: Number(m[1]), majority: Number(m[2]) };
}

function leaseLines(l: LeaseInfo): string[] {
  return [
    `  lease id       ${l.leaseId}`,
    `  executor       #${l.executorId} (provider ${l.provider})`,
    `  enclave        ${l.enclave}`,
    `  endpoint       ${l.endpoint}`,
    `  evidence hash  ${l.evidenceHash}`,
    `  unit price     ${l.unitPrice} units/s (${formatEther(l.unitPrice)} DFS/s)`,
    `  budget         ${formatEther(l.budget)} DFS in Settlement; collateral ${formatEther(l.collateral)} DFS`,
    `  deployment     ${l.deployment ?? '(not found in the logs)'}`,
    ...(l.startedAt !== undefined
      ? [`  runs           from ${l.startedAt} to ${l.endsAt} (chain time)`]
      : []),
  ];
}

/** `v` within [lo, hi] (lo wins when they cross). */
function clamp(v: bigint, lo: bigint, hi: bigint): bigint {
  if (v > hi) return hi < lo ? lo : hi;
  return v < lo ? lo : v;
}

interface PostFlags extends ChainFlags, WaitFlags {
  level: bigint;
  duration: bigint;
  maxPrice: bigint;
  committee: { size: number; majority: number };
  biddingWindow?: bigint;
  epochLength?: bigint;
  availabilityBps: number;
  p95Ms: number;
}

async function post(json: boolean, o: PostFlags): Promise<ExitCode> {
  const ch = await open(o, true);
  try {
    const p = await reading(ch.rpc, () => ch.market.params());
    // Defaults: a bidding window of at least 30 s, one epoch over the whole lease when it is long enough.
    const biddingWindow = o.biddingWindow ?? clamp(30n, p.minBiddingWindow, p.maxBiddingWindow);
    const epochLength = o.epochLength ?? clamp(o.duration, p.minEpochLength, o.duration);
    const terms: OrderTerms = {
      levelId: o.level,
      duration: o.duration,
      maxUnitPrice: o.maxPrice,
      biddingWindow,
      committeeSize: o.committee.size,
      majority: o.committee.majority,
      availabilityBps: o.availabilityBps,
      p95LatencyMs: o.p95Ms,
      epochLength,
    };
    const posted = await postOrder(ch, terms, progress);
    const orderText = [
      `order ${posted.orderId} posted by ${posted.customer}`,
      `  escrow         ${posted.escrow} units (${formatEther(posted.escrow)} DFS)`,
      `  bids until     ${posted.bidDeadline}, reveals until ${posted.revealDeadline} (chain time)`,
      `  follow it      defaas order status ${posted.orderId} --wait`,
    ];
    const result = { orderId: posted.orderId, order: posted, terms };
    if (!o.wait) {
      printResult(json, result, orderText.join('\n'));
      return EXIT.OK;
    }
    progress(orderText.join('\n'));
    const lease = await followOrder(ch, posted.orderId, {
      timeoutMs: o.timeout * 1000,
      pollMs: o.pollMs,
      progress,
      fromBlock: posted.block,
    });
    printResult(
      json,
      { ...result, lease },
      [`order ${posted.orderId}: lease started`, ...leaseLines(lease)].join('\n'),
    );
    return EXIT.OK;
  } finally {
    ch.close();
  }
}

function statusText(s: OrderStatus): string {
  const bids = s.bids.map(
    (b) =>
      `    #${b.index} executor ${b.executorId} by ${b.bidder}: ${b.revealed ? `${b.price} units/s, ${b.gflops} GFLOP/s` : 'sealed'}`,
  );
  return [
    `order ${s.orderId}: ${s.state} (chain time ${s.now})`,
    `  customer       ${s.customer}`,
    `  level          ${s.levelId}, ${s.duration} s at ≤ ${s.maxUnitPrice} units/s`,
    `  escrow         ${s.escrow} units (${formatEther(s.escrow)} DFS)`,
    `  deadlines      bids ${s.bidDeadline}, reveals ${s.revealDeadline}, step ${s.stepDeadline}`,
    `  bids           ${s.bids.length}`,
    ...bids,
    ...(s.offered
      ? [
          `  offered        bid #${s.offered.index} at ${s.offered.price} units/s${s.offered.runnerUp ? ' (runner-up)' : ''}`,
        ]
      : []),
    ...(s.lease ? ['  lease', ...leaseLines(s.lease).map((l) => `  ${l}`)] : []),
    `  next           ${s.next}`,
  ].join('\n');
}

interface StatusFlags extends ChainFlags, WaitFlags {}

async function status(json: boolean, id: bigint, o: StatusFlags): Promise<ExitCode> {
  const ch = await open(o, o.wait === true);
  try {
    if (o.wait) {
      await followOrder(ch, id, { timeoutMs: o.timeout * 1000, pollMs: o.pollMs, progress });
      progress(`order ${id}: lease started`);
    }
    const s = await readOrderStatus(ch, id);
    printResult(json, { status: s }, statusText(s));
    return EXIT.OK;
  } finally {
    ch.close();
  }
}

async function cancel(json: boolean, id: bigint, o: ChainFlags): Promise<ExitCode> {
  const ch = await open(o, true);
  try {
    const order = await orderOf(ch, id);
    const info = { orderId: id.toString(), state: stateName(order.state) };
    if (order.customer.toLowerCase() !== ch.signer!.address.toLowerCase())
      throw new CliError('NOT_CUSTOMER', `order ${id} belongs to ${order.customer}, not to this key`, info);
    if (order.state !== MarketState.Bidding || order.bidCount !== 0n)
      throw new CliError(
        'ORDER_WRONG_STATE',
        order.state === MarketState.Bidding
          ? `order ${id} has ${order.bidCount} bid(s): the Market lets a customer cancel only an order nobody bid on`
          : `order ${id} is ${stateName(order.state)}: only an order still bidding, with no bid, can be cancelled`,
        info,
      );
    const sent = await sendTx(ch, 'Market.cancelOrder', (ov) => ch.market.cancelOrder(id, ov));
    printResult(
      json,
      { orderId: id, refunded: order.escrow, ...(sent !== 'already-done' && { tx: sent.hash }) },
      `order ${id} cancelled: ${order.escrow} units (${formatEther(order.escrow)} DFS) refunded`,
    );
    return EXIT.OK;
  } finally {
    ch.close();
  }
}

function customerFlags(c: Command): Command {
  return chainFlags(c).option(
    '--key <file>',
    `the customer's private key file, one line of hex (default: $${KEY_ENV})`,
  );
}

function waitFlags(c: Command): Command {
  return c
    .option(
      '--timeout <s>',
      'give up waiting after this many seconds (the order is left as it is)',
      integerArg(1, 30 * 86_400),
      DEFAULT_TIMEOUT_S,
    )
    .option('--poll-ms <ms>', 'between two reads of the order', integerArg(50, 60_000), 1000);
}

const orderId = (v: string) => {
  const id = uint256Arg(v);
  if (id < 1n) throw new InvalidArgumentError('Order ids start at 1.');
  return id;
};

export function registerOrder(program: Command): void {
  const order = program
    .command('order')
    .description("the customer's side of the market: post, follow, cancel orders");
  const postCommand = customerFlags(
    order
      .command('post')
      .description('post an order (approving the Market for its escrow); --wait follows it to a lease'),
  )
    .requiredOption('--level <id>', 'FaaS level id (see `defaas market levels`)', uint256Arg)
    .requiredOption('--duration <s>', 'lease duration in seconds', uint256Arg)
    .requiredOption(
      '--max-price <units/s>',
      'highest unit price, token base units per second of lease',
      uint256Arg,
    )
    .addOption(
      new Option('--committee <size/majority>', 'witness committee per epoch')
        .argParser(committeeArg)
        .default({ size: 5, majority: 3 }, '5/3'),
    )
    .option(
      '--bidding-window <s>',
      "seconds for sealed bids (default: 30, within the Market's bounds)",
      uint256Arg,
    )
    .option(
      '--epoch-length <s>',
      "seconds per witnessed epoch (default: the whole lease, at least the Market's minimum)",
      uint256Arg,
    )
    .option(
      '--availability-bps <n>',
      'SLA availability in basis points (9900 = 99 %)',
      integerArg(1, 10_000),
      9900,
    )
    .option('--p95-ms <n>', 'SLA 95th-percentile latency in milliseconds', integerArg(1, 0xffffffff), 500)
    .option(
      '--wait',
      'follow the order: close the bidding, expire an unconfirmed offer, start the confirmed lease',
    );
  waitFlags(postCommand)
    .option(
      '--json',
      'print one JSON object: orderId, order (escrow, deadlines, txs), terms, lease (with --wait)',
    )
    .addHelpText(
      'after',
      '\nProgress lines go to stderr. Without a bid the order fails and its escrow is refunded (NO_BIDS, exit 4);\n' +
        'an order no provider confirms or starts fails likewise (ORDER_FAILED, exit 4); a --timeout leaves the\n' +
        'order as it is (WAIT_TIMEOUT, exit 3): `defaas order status <id> --wait` resumes. A reverted transaction\n' +
        "prints the contract's custom error (TX_REVERTED, exit 4).\n" +
        EXIT_CODES_HELP +
        '\nExamples:\n  defaas order post --key customer.key --level 1 --duration 600 --max-price 1000000000000000 --wait\n' +
        '  defaas order post --level 1 --duration 3600 --max-price 5000000000000000 --committee 3/2 --json',
    )
    .action(action(post));
  waitFlags(
    customerFlags(
      order
        .command('status')
        .description('read an order: state, deadlines, bids, offered bid, lease, and the next step')
        .argument('<id>', 'order id', orderId),
    ),
  )
    .option('--wait', "resume following the order to a started lease (needs the customer's key)")
    .option('--json', 'print one JSON object: status (state, deadlines, bids, offered, lease, next)')
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}\nExamples:\n  defaas order status 3\n  defaas order status 3 --wait --key customer.key`,
    )
    .action(action(status));
  customerFlags(
    order
      .command('cancel')
      .description('cancel an order nobody bid on (state bidding, no bid) and take back its escrow')
      .argument('<id>', 'order id', orderId),
  )
    .option('--json', 'print one JSON object: orderId, refunded, tx')
    .addHelpText('after', `${EXIT_CODES_HELP}\nExample:\n  defaas order cancel 3 --key customer.key`)
    .action(action(cancel));
}

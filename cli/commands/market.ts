/*
 * `defaas market levels|orders|executors`: what the Market and the Registry hold, read from the chain
 * with the SDK's readers (sdk/discover.ts). Read-only: no key is needed.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { formatEther } from 'ethers';
import {
  DEFAULT_PAGE,
  discover,
  type ExecutorInfo,
  type LevelInfo,
  levels,
  MAX_PAGE,
  type MarketDeployment,
  ORDER_STATES,
  type OrderInfo,
  type OrderStateName,
  orders,
  type Page,
  type Requirements,
  TEE_NAMES,
  type TeeName,
} from '../../sdk/index.js';
import { integerArg, uint256Arg } from '../args.js';
import { chainFlags } from '../chain-flags.js';
import { UsageError } from '../errors.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { readDeployment } from '../files.js';
import { action, printResult } from '../output.js';

interface ChainOptions {
  rpc?: string;
  deployment: string;
  from?: bigint;
  max: number;
  json?: boolean;
}

/** A comma-separated list whose items are all in `allowed`, without repeats. */
function listArg<T extends string>(allowed: readonly T[]): (v: string) => T[] {
  return (v) => {
    const items = v.split(',').map((s) => s.trim());
    for (const s of items)
      if (!(allowed as readonly string[]).includes(s))
        throw new InvalidArgumentError(`Expected a comma-separated list of: ${allowed.join(', ')}.`);
    return [...new Set(items)] as T[];
  };
}

/** The deployment file and the endpoint: --rpc, else the file's rpcUrl. */
async function chainOf(o: ChainOptions): Promise<{ rpc: string; deployment: MarketDeployment }> {
  const deployment = await readDeployment(o.deployment);
  const rpc = o.rpc ?? deployment.rpcUrl;
  if (rpc === undefined)
    throw new UsageError(`--rpc is needed: ${o.deployment} has no rpcUrl`, 'MISSING_ARGUMENT', {
      flag: '--rpc',
    });
  return { rpc, deployment };
}

/** Left-aligned columns under a header; an empty table says so. */
function table(header: readonly string[], rows: readonly (readonly string[])[], empty: string): string {
  if (rows.length === 0) return `${empty}\n`;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** "ids 1-3 of 3", and how to read on when the page stopped early. */
function pageLine<T>(p: Page<T>, from: bigint, shown: number, what: string): string {
  const last = p.next !== undefined ? p.next - 1n : p.total;
  const range = from > last ? `none of ${p.total}` : `ids ${from}-${last} of ${p.total}`;
  const more = p.next !== undefined ? ` (more: --from ${p.next})` : '';
  return `${shown} ${what} (${range})${more}\n`;
}

function pageFields<T>(p: Page<T>): Record<string, unknown> {
  return { total: p.total, ...(p.next !== undefined && { next: p.next }) };
}

async function levelsCommand(json: boolean, o: ChainOptions): Promise<ExitCode> {
  const chain = await chainOf(o);
  const p = await levels({ ...chain, from: o.from ?? 1n, maxItems: o.max });
  const rows = p.items.map((l: LevelInfo) => [
    String(l.id),
    l.labels,
    l.teeType,
    String(l.cpuCores),
    String(l.memoryMiB),
    String(l.gpuMemoryMiB),
    String(l.minGflops),
  ]);
  printResult(
    json,
    { levels: p.items, ...pageFields(p) },
    table(['ID', 'LABELS', 'TEE', 'CPU', 'MEM_MIB', 'GPU_MIB', 'MIN_GFLOPS'], rows, 'no levels') +
      pageLine(p, o.from ?? 1n, p.items.length, 'levels'),
  );
  return EXIT.OK;
}

interface OrdersOptions extends ChainOptions {
  state?: OrderStateName[];
}

async function ordersCommand(json: boolean, o: OrdersOptions): Promise<ExitCode> {
  const chain = await chainOf(o);
  const p = await orders({
    ...chain,
    from: o.from ?? 1n,
    maxItems: o.max,
    ...(o.state !== undefined && { state: o.state }),
  });
  const rows = p.items.map((x: OrderInfo) => [
    String(x.id),
    x.state,
    String(x.levelId),
    String(x.duration),
    formatEther(x.maxUnitPrice),
    String(x.bidCount),
    `${x.availabilityBps / 100}%`,
    String(x.p95LatencyMs),
    `${x.epochs}x${x.epochLength}s`,
    x.customer,
  ]);
  printResult(
    json,
    { orders: p.items, ...pageFields(p) },
    table(
      [
        'ID',
        'STATE',
        'LEVEL',
        'DURATION_S',
        'MAX_UNIT_PRICE',
        'BIDS',
        'AVAIL',
        'P95_MS',
        'EPOCHS',
        'CUSTOMER',
      ],
      rows,
      'no orders',
    ) + pageLine(p, o.from ?? 1n, p.items.length, 'orders'),
  );
  return EXIT.OK;
}

interface ExecutorsOptions extends ChainOptions {
  level?: bigint;
  tee?: TeeName[];
  minCpu?: number;
  minMemoryMib?: number;
  minGpuMemoryMib?: number;
  minGflops?: number;
  minFreeStake?: bigint;
}

async function executorsCommand(json: boolean, o: ExecutorsOptions): Promise<ExitCode> {
  const chain = await chainOf(o);
  const requirements: Requirements = {
    ...(o.level !== undefined && { levelId: o.level }),
    ...(o.tee !== undefined && { tees: o.tee }),
    ...(o.minCpu !== undefined && { minCpuCores: o.minCpu }),
    ...(o.minMemoryMib !== undefined && { minMemoryMiB: o.minMemoryMib }),
    ...(o.minGpuMemoryMib !== undefined && { minGpuMemoryMiB: o.minGpuMemoryMib }),
    ...(o.minGflops !== undefined && { minGflops: o.minGflops }),
    ...(o.minFreeStake !== undefined && { minFreeStake: o.minFreeStake }),
  };
  const p = await discover({ ...chain, from: o.from ?? 1n, maxItems: o.max, requirements });
  const rows = p.items.map((e: ExecutorInfo) => [
    String(e.id),
    e.teeType,
    String(e.cpuCores),
    String(e.memoryMiB),
    String(e.gpuMemoryMiB),
    String(e.gflops),
    formatEther(e.freeStake),
    String(e.activeLeases),
    e.endpoint,
    e.enclave,
  ]);
  printResult(
    json,
    { executors: p.items, requirements, ...pageFields(p) },
    table(
      ['ID', 'TEE', 'CPU', 'MEM_MIB', 'GPU_MIB', 'GFLOPS', 'FREE_STAKE', 'LEASES', 'ENDPOINT', 'ENCLAVE'],
      rows,
      'no executor meets the requirements',
    ) + pageLine(p, o.from ?? 1n, p.items.length, 'executors match'),
  );
  return EXIT.OK;
}

/** The options every market subcommand takes. */
function chainOptions(c: Command): Command {
  return chainFlags(c)
    .option('--from <id>', 'first id to read (default 1)', (v) => {
      const id = uint256Arg(v);
      if (id < 1n) throw new InvalidArgumentError('Ids start at 1.');
      return id;
    })
    .option('--max <n>', `most ids to read (at most ${MAX_PAGE})`, integerArg(1, MAX_PAGE), DEFAULT_PAGE);
}

export function registerMarket(program: Command): void {
  const market = program
    .command('market')
    .description('list what the Market and the Registry hold on chain: levels, orders, executors');
  chainOptions(market.command('levels').description('list the FaaS levels (specs, TEE type, labels)'))
    .option(
      '--json',
      'print one JSON object: levels (id, cpuCores, memoryMiB, gpuMemoryMiB, minGflops, teeType, labels), total',
    )
    .addHelpText(
      'after',
      EXIT_CODES_HELP +
        '\nExamples:\n  defaas market levels\n  defaas market levels --rpc http://127.0.0.1:8545 --json',
    )
    .action(action(levelsCommand));
  chainOptions(market.command('orders').description('list orders with their state and SLA terms'))
    .option(
      '--state <states>',
      `only orders in these states, comma-separated (${ORDER_STATES.filter((s) => s !== 'none').join(', ')})`,
      listArg(ORDER_STATES),
    )
    .option(
      '--json',
      'print one JSON object: orders (id, state, levelId, SLA terms, price, ...), total, next?',
    )
    .addHelpText(
      'after',
      EXIT_CODES_HELP +
        '\nExamples:\n  defaas market orders --state bidding\n  defaas market orders --state fulfilling,deploying --json',
    )
    .action(action(ordersCommand));
  chainOptions(
    market
      .command('executors')
      .description('list the registered executors that meet the requirements (all of them without any)'),
  )
    .option(
      '--level <id>',
      'a level whose minimums apply as the Market checks a bid (specs, TEE type, minProviderStake)',
      uint256Arg,
    )
    .option(
      '--tee <types>',
      `allowed TEE types, comma-separated (${TEE_NAMES.join(', ')})`,
      listArg(TEE_NAMES),
    )
    .option('--min-cpu <n>', 'at least this many CPU cores', integerArg(0, 0xffffffff))
    .option('--min-memory-mib <n>', 'at least this much memory', integerArg(0, 0xffffffff))
    .option('--min-gpu-memory-mib <n>', 'at least this much GPU memory', integerArg(0, 0xffffffff))
    .option('--min-gflops <n>', 'at least this many declared GFLOP/s', integerArg(0, 0xffffffff))
    .option('--min-free-stake <units>', 'at least this much free stake, token base units', uint256Arg)
    .option(
      '--json',
      'print one JSON object: executors (id, provider, enclave, endpoint, specs, stake), requirements, total',
    )
    .addHelpText(
      'after',
      '\nSpecs and TEE types are what providers declared at registration; the attested evidence behind\n' +
        '`evidenceHash` is checked when a session opens, not here.\n' +
        EXIT_CODES_HELP +
        '\nExamples:\n  defaas market executors --level 2\n' +
        '  defaas market executors --tee tdx,sev-snp --min-gflops 40 --json',
    )
    .action(action(executorsCommand));
}

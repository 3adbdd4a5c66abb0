/*
 * Regenerates docs/gas.md: drives the v2 flows on a fresh anvil through the bindings and records the
 * gasUsed of every mined transaction (intrinsic 21k and calldata included).
 *   npx tsx contracts/gas-report.ts            # rewrite docs/gas.md
 *   npx tsx contracts/gas-report.ts --stdout   # print only
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEther, Wallet } from 'ethers';
import * as bindings from './bindings/index.js';
import { WitnessPoolVerdict } from './bindings/index.js';
import { CONTRACTS } from './build.js';
import { PaddedWallet } from './deploy.js';
import { runForge } from './forge.js';
import {
  AVAILABILITY_BPS,
  allSay,
  auction,
  type Chain,
  DURATION,
  EPOCH_LENGTH,
  executorSpec,
  LEVEL,
  P95_LATENCY_MS,
  PROVIDER_STAKE,
  playRound,
  records,
  registrationProof,
  requestRound,
  salt,
  signedReceipt,
  signedVoucher,
  startChain,
  startLease,
} from './test/chain-fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
const { Ok, Fraud } = WitnessPoolVerdict;

interface Measured {
  readonly total: bigint;
  readonly txs: { label: string; gas: bigint }[];
}

async function measure(ch: Chain, run: () => Promise<unknown>): Promise<Measured> {
  const from = ch.txLog.length;
  await run();
  const txs = ch.txLog.slice(from);
  return { total: txs.reduce((s, t) => s + t.gas, 0n), txs };
}

function fmt(n: bigint | number): string {
  return Number(n).toLocaleString('en-US');
}

interface Target {
  readonly what: string;
  readonly target: number;
  readonly measured: bigint;
  readonly note: string;
}

interface Flow {
  readonly name: string;
  readonly gas: bigint;
  readonly note: string;
}

/** The transactions of one epoch's round: its request and draw, then its commits, reveals and finalize. */
interface EpochGas {
  readonly request: Measured;
  readonly play: Measured;
}

/**
 * Runs every epoch of a started lease the way the parties would: the round of epoch e is requested
 * and drawn as the epoch starts, while the round of epoch e - 1 is in its commit window; that round is
 * then played (`verdicts`) and finalized. Returns each epoch's transactions.
 */
async function runEpochs(
  ch: Chain,
  orderId: bigint,
  verdicts: readonly (WitnessPoolVerdict | null)[],
): Promise<EpochGas[]> {
  const epochs = Number((await ch.c.market.order(orderId)).epochs);
  const rounds: bigint[] = [];
  const requests: Measured[] = [];
  const plays: Measured[] = [];
  for (let e = 0; e < epochs; e++) {
    requests.push(
      await measure(ch, async () => {
        rounds.push(await requestRound(ch, orderId));
      }),
    );
    if (e > 0) plays.push(await measure(ch, () => playRound(ch, rounds[e - 1]!, verdicts)));
  }
  plays.push(await measure(ch, () => playRound(ch, rounds[epochs - 1]!, verdicts)));
  return requests.map((request, e) => ({ request, play: plays[e]! }));
}

const epochTotal = (g: EpochGas) => g.request.total + g.play.total;
const txCount = (...ms: Measured[]) => ms.reduce((n, m) => n + m.txs.length, 0);

export async function gasReport(): Promise<string> {
  const ch = await startChain({ providers: 5, witnesses: 9 });
  try {
    const { c } = ch;
    const flows: Flow[] = [];
    const p = (i: number) => ch.providers[i]!;

    // 1. an order with 5 bids from post to Finished, both epochs checked by N = 3 committees
    let orderId = 0n;
    const market = await measure(ch, async () => {
      orderId = await auction(
        ch,
        [9n, 5n, 7n, 6n, 8n].map((x) => x * 10n ** 14n),
      );
      await startLease(ch, orderId);
    });
    const orderEpochs = await runEpochs(ch, orderId, allSay(3));
    const orderRounds = orderEpochs.flatMap((g) => [g.request, g.play]);
    flows.push({
      name: `order with 5 bids, post → Finished (${orderEpochs.length} epochs, N = 3)`,
      gas: market.total + orderRounds.reduce((s, m) => s + m.total, 0n),
      note: `${txCount(market, ...orderRounds)} txs: post, 5 commits, 5 reveals, close, confirm, start (${fmt(market.total)} together), then per epoch request, draw, 3 commits, 3 reveals, finalize; the last finalize finishes the lease`,
    });
    for (const i of [0, 2, 3, 4]) {
      await ch.tx('Market.claimBond', c.market.connect(p(i).signer).claimBond(orderId, i));
    }

    // 2. epoch rounds N = 3, 5, 7 (all Ok) on leases of 3 epochs; the middle epoch is the typical one
    const middle: Record<number, EpochGas> = {};
    const last: Record<number, EpochGas> = {};
    const sizes: [number, number][] = [
      [3, 2],
      [5, 3],
      [7, 4],
    ];
    for (const [n, m] of sizes) {
      const id = await auction(ch, [5n * 10n ** 14n], {
        size: n,
        majority: m,
        duration: 3n * EPOCH_LENGTH,
      });
      await startLease(ch, id);
      const g = await runEpochs(ch, id, allSay(n));
      middle[n] = g[1]!;
      last[n] = g[2]!;
      flows.push({
        name: `epoch round N = ${n} (request, draw, ${n} commits, ${n} reveals, finalize)`,
        gas: epochTotal(g[1]!),
        note: `a middle epoch; request ${fmt(g[1]!.request.txs[0]!.gas)}, draw ${fmt(g[1]!.request.txs[1]!.gas)}, finalize ${fmt(g[1]!.play.txs.at(-1)!.gas)}`,
      });
    }
    flows.push({
      name: 'epoch round N = 5, last epoch',
      gas: epochTotal(last[5]!),
      note: `its finalize (${fmt(last[5]!.play.txs.at(-1)!.gas)}) also finishes the lease and closes the Settlement lease`,
    });
    {
      const id = await auction(ch, [5n * 10n ** 14n], { size: 5, majority: 3 });
      const startedAt = await startLease(ch, id);
      const round = await measure(ch, async () => {
        const r = await requestRound(ch, id);
        await playRound(ch, r, [Fraud, Fraud, Fraud, Ok, null], startedAt + 10n);
      });
      flows.push({
        name: 'epoch round N = 5, Fraud (3 report Fraud, 1 Ok, 1 never reveals)',
        gas: round.total,
        note: `finalize (${fmt(round.txs.at(-1)!.gas)}) slashes the collateral, pays the split, penalises the silent member, fails the lease pro rata and closes its Settlement lease`,
      });
    }

    // 3. vouchers and disputes on a fresh lease (provider 2)
    const leaseId = await auction(ch, [5n * 10n ** 14n], { bidders: [2] });
    await startLease(ch, leaseId);
    const provider = p(2);
    const enclave = ch.enclaves[2]!;
    const settlement = c.settlement.connect(provider.signer);
    const customer = c.settlement.connect(ch.customer.signer);
    const one = records(0n, 1, 'b1');
    const v1 = await signedVoucher(ch, leaseId, one, parseEther('0.001'));
    await ch.tx('Settlement.redeem', settlement.redeem(v1.voucher, v1.signature));
    const b64 = records(1n, 64, 'b64');
    const v64 = await signedVoucher(ch, leaseId, b64, parseEther('0.01'));
    await ch.tx('Settlement.redeem', settlement.redeem(v64.voucher, v64.signature));
    const lone = records(65n, 1, 'lone');
    const vLone = await signedVoucher(ch, leaseId, lone, parseEther('0.011'));
    await ch.tx('Settlement.redeem', settlement.redeem(vLone.voucher, vLone.signature));
    const redeems = ch.gas.get('Settlement.redeem')!;
    flows.push({
      name: 'voucher redemption by the provider (batch of any size)',
      gas: max(redeems),
      note: `largest of ${redeems.length}; releases the amount and records the batch; \`collect\` transfers it`,
    });
    await ch.tx('Settlement.collect', c.settlement.collect(leaseId));
    const batchOf = (v: typeof v1.voucher) => [v.leaseId, v.firstNonce, v.lastNonce, v.requestHead] as const;

    const open1 = await ch.tx('Settlement.openClaim', customer.openClaim(...batchOf(v1.voucher), 0n));
    const r1 = await signedReceipt(ch, leaseId, one, enclave);
    const answer1 = await ch.tx(
      'Settlement.answerClaim (batch 1)',
      settlement.answerClaim(1n, r1.receipt, r1.signature, one),
    );
    const open64 = await ch.tx('Settlement.openClaim', customer.openClaim(...batchOf(v64.voucher), 40n));
    const r64 = await signedReceipt(ch, leaseId, b64, enclave);
    const answer64 = await ch.tx(
      'Settlement.answerClaim (batch 64)',
      settlement.answerClaim(2n, r64.receipt, r64.signature, b64),
    );
    flows.push({
      name: 'non-delivery claim answered, batch of 1 (open + answer)',
      gas: open1 + answer1,
      note: `answer alone ${fmt(answer1)}`,
    });
    flows.push({
      name: 'non-delivery claim answered, batch of 64 (open + answer)',
      gas: open64 + answer64,
      note: `answer alone ${fmt(answer64)}`,
    });
    const openLone = await ch.tx('Settlement.openClaim', customer.openClaim(...batchOf(vLone.voucher), 65n));
    await ch.advance(ch.params.answerWindow + 1n);
    const uphold = await ch.tx('Settlement.upholdClaim', c.settlement.upholdClaim(3n));
    flows.push({
      name: 'non-delivery claim unanswered (open + uphold: slash the collateral, compensate)',
      gas: openLone + uphold,
      note: `uphold alone ${fmt(uphold)}`,
    });
    await ch.advance(DURATION);
    await ch.tx('Market.finish', c.market.finish(leaseId)); // no round was requested: every epoch refunded
    await ch.advance(ch.params.redeemWindow);
    await ch.tx('Settlement.settle', c.settlement.settle(leaseId));

    // 4. the remaining external functions
    const w = ch.witnesses[0]!;
    const idle = p(4); // it bid but never won, so its stake can move and its enclave can change
    const idleId = ch.executorIds[4]!;
    await ch.tx('Registry.addWitnessStake', c.registry.connect(w.signer).addWitnessStake(1n));
    await ch.tx('Registry.requestWitnessUnstake', c.registry.connect(w.signer).requestWitnessUnstake(1n));
    await ch.tx('Registry.addExecutorStake', c.registry.connect(idle.signer).addExecutorStake(idleId, 1n));
    await ch.tx(
      'Registry.requestExecutorUnstake',
      c.registry.connect(idle.signer).requestExecutorUnstake(idleId, 1n),
    );
    await ch.advance(ch.params.thawPeriod);
    await ch.tx('Registry.withdrawWitnessStake', c.registry.connect(w.signer).withdrawWitnessStake());
    await ch.tx(
      'Registry.withdrawExecutorStake',
      c.registry.connect(idle.signer).withdrawExecutorStake(idleId),
    );
    {
      // re-attestation: a new enclave key with its own proof of possession
      const enclave2 = new Wallet(salt('re-attested enclave 4'));
      const evidence = salt('evidence 4, re-attested');
      const endpoint = '127.0.0.1:7104';
      const proof = await registrationProof(c, enclave2, idle.address, evidence, endpoint);
      await ch.tx(
        'Registry.updateExecutor',
        c.registry.connect(idle.signer).updateExecutor(idleId, enclave2.address, evidence, endpoint, proof),
      );
      ch.enclaves[4] = enclave2;
    }
    // a later executor whose endpoint takes the longest string that fits two data slots
    const longEndpoint = 'https://a-rather-long-executor-host-name.provider.example:8443/';
    {
      const wallet = new PaddedWallet(salt('gas-report provider 5'), ch.provider);
      const enclave5 = new Wallet(salt('gas-report enclave 5'));
      await ch.provider.send('anvil_setBalance', [wallet.address, '0x3635C9ADC5DEA00000']);
      await ch.tx('setup', c.token.connect(ch.deployer.signer).transfer(wallet.address, PROVIDER_STAKE));
      await ch.tx('setup', c.token.connect(wallet).approve(c.registry, PROVIDER_STAKE));
      const spec = { ...executorSpec(enclave5.address, 5), endpoint: longEndpoint };
      const proof = await registrationProof(c, enclave5, wallet.address, spec.evidenceHash, longEndpoint);
      await ch.tx(
        'Registry.registerExecutor (63-byte endpoint)',
        c.registry.connect(wallet).registerExecutor(spec, PROVIDER_STAKE, proof),
      );
    }
    const cancelId = (await c.market.orderCount()) + 1n;
    await ch.tx(
      'Market.postOrder',
      c.market.connect(ch.customer.signer).postOrder({
        levelId: LEVEL,
        duration: DURATION,
        maxUnitPrice: 1n,
        biddingWindow: 50n,
        committeeSize: 3,
        majority: 2,
        availabilityBps: AVAILABILITY_BPS,
        p95LatencyMs: P95_LATENCY_MS,
        epochLength: EPOCH_LENGTH,
      }),
    );
    await ch.tx('Market.cancelOrder', c.market.connect(ch.customer.signer).cancelOrder(cancelId));
    // the winner never confirms: the runner-up is offered the lease, confirms, and the customer never starts
    const expiring = await auction(ch, [5n * 10n ** 14n, 6n * 10n ** 14n], { bidders: [3, 4] });
    await ch.advance(ch.params.confirmWindow);
    await ch.tx('Market.expire (offer the runner-up)', c.market.expire(expiring));
    await ch.tx(
      'Market.confirmLease',
      c.market.connect(idle.signer).confirmLease(expiring, 'grpc://127.0.0.1:7104'),
    );
    await ch.advance(ch.params.deployWindow);
    await ch.tx('Market.expire (deployment fee)', c.market.expire(expiring));
    await ch.tx('AttestationLog.anchor', c.attestationLog.anchor(1n, `0x${'22'.repeat(32)}`, '0x'));
    await ch.tx(
      'AttestationLog.anchor',
      c.attestationLog.anchor(2n, `0x${'33'.repeat(32)}`, `0x${'44'.repeat(64)}`),
    );
    await ch.tx('Token.transfer', c.token.connect(ch.customer.signer).transfer(provider.address, 1n));
    await ch.tx('Token.approve', c.token.connect(ch.customer.signer).approve(provider.address, 1n));
    await ch.tx('Token.burn', c.token.connect(ch.customer.signer).burn(1n));

    const registers = ch.gas.get('Registry.registerExecutor')!;
    const commits = ch.gas.get('WitnessPool.commitVerdict')!;
    const reveals = ch.gas.get('WitnessPool.revealVerdict')!;
    const n5 = middle[5]!;
    const targets: Target[] = [
      {
        what: 'voucher redeem',
        target: 60_000,
        measured: max(redeems),
        note: `largest of ${redeems.length} (smallest ${fmt(min(redeems))})`,
      },
      {
        what: 'witness commit',
        target: 50_000,
        measured: max(commits),
        note: `largest of ${commits.length}`,
      },
      {
        what: 'witness reveal with evidence hash',
        target: 60_000,
        measured: max(reveals),
        note: `largest of ${reveals.length}, Ok and Fraud reports (smallest ${fmt(min(reveals))})`,
      },
      {
        what: 'next-epoch request + draw (N = 5)',
        target: 200_000,
        measured: n5.request.total,
        note: `epoch 1: \`Market.requestRound\` ${fmt(n5.request.txs[0]!.gas)} + \`WitnessPool.drawCommittee\` ${fmt(n5.request.txs[1]!.gas)}`,
      },
      {
        what: 'whole N = 5 epoch round',
        target: 800_000,
        measured: epochTotal(n5),
        note: `epoch 1, all ${txCount(n5.request, n5.play)} transactions: request, draw, 5 commits, 5 reveals, finalize (pays the epoch)`,
      },
      {
        what: 'register executor with proof of possession',
        target: 250_000,
        measured: max(registers),
        note: `largest of ${registers.length} with 14-byte endpoints: the chain's first registration also writes the registry's first token balance and counters (later ones ${fmt(min(registers))})`,
      },
      {
        what: 'register executor with proof of possession, 63-byte endpoint',
        target: 250_000,
        measured: ch.gas.get('Registry.registerExecutor (63-byte endpoint)')![0]!,
        note: `not the chain's first registration; \`${longEndpoint}\` (two more storage slots)`,
      },
    ];
    const draws = Object.fromEntries(sizes.map(([n]) => [n, middle[n]!.request.txs[1]!.gas]));
    const sum = (label: string) =>
      [...n5.request.txs, ...n5.play.txs].filter((t) => t.label === label).reduce((a, t) => a + t.gas, 0n);
    const breakdown = `The N = 5 epoch round above, by step: request ${fmt(sum('Market.requestRound'))}, draw ${fmt(sum('WitnessPool.drawCommittee'))}, 5 commits ${fmt(sum('WitnessPool.commitVerdict'))}, 5 reveals ${fmt(sum('WitnessPool.revealVerdict'))}, finalize ${fmt(sum('WitnessPool.finalize'))}.`;
    return render(ch, flows, targets, draws, breakdown);
  } finally {
    await ch.stop();
  }
}

function max(xs: readonly bigint[]): bigint {
  let m = 0n;
  for (const x of xs) if (x > m) m = x;
  return m;
}

function min(xs: readonly bigint[]): bigint {
  let m = xs[0] ?? 0n;
  for (const x of xs) if (x < m) m = x;
  return m;
}

function render(
  ch: Chain,
  flows: Flow[],
  targets: Target[],
  drawGas: Record<number, bigint>,
  breakdown: string,
): string {
  const lines: string[] = [];
  lines.push('# Gas report');
  lines.push('');
  lines.push(
    'Generated by `npm run gas:contracts` (`npx tsx contracts/gas-report.ts`) on a fresh anvil through the',
    'TypeScript bindings: every number in the first three tables is the `gasUsed` of a mined anvil',
    'transaction, so it includes the 21,000 intrinsic gas and calldata. solc 0.8.37, optimizer 200 runs,',
    'EVM prague; `TEST_PARAMS` of `contracts/deploy.ts` (epochs of 500 s). Committee draws depend on block',
    'hashes, so draw and round numbers move by a few thousand gas between runs.',
  );
  lines.push('');
  lines.push('## Targets (issue 10)');
  lines.push('');
  lines.push('| what | target | measured | | how it was measured |');
  lines.push('|---|---:|---:|---|---|');
  for (const t of targets) {
    const met = t.measured <= BigInt(t.target) ? 'met' : 'missed';
    lines.push(`| ${t.what} | ≤ ${fmt(t.target)} | ${fmt(t.measured)} | ${met} | ${t.note} |`);
  }
  lines.push('');
  lines.push(
    `Committee draw by size (a middle epoch): ${Object.entries(drawGas)
      .map(([n, g]) => `N = ${n}: ${fmt(g)}`)
      .join(', ')}. ${breakdown}`,
  );
  lines.push('');
  lines.push(
    'An epoch round is every transaction that checks one epoch: `Market.requestRound` as the epoch',
    'starts (sends the witness fee to the pool and opens the round), `WitnessPool.drawCommittee` once the',
    'seed block is mined, one `commitVerdict` and one `revealVerdict` per member, and `finalize`, which',
    'pays the members and calls `Market.onRoundSettled` to pay the epoch. The rounds are played as the',
    'parties would: the round of epoch e is requested and drawn while the round of epoch e − 1 is still',
    'in its commit window, so a middle epoch is measured with two rounds of its lease open.',
  );
  lines.push('');
  lines.push('## Flows');
  lines.push('');
  lines.push('| flow | gas | note |');
  lines.push('|---|---:|---|');
  for (const f of flows) lines.push(`| ${f.name} | ${fmt(f.gas)} | ${f.note} |`);
  lines.push('');
  lines.push('## Every external function');
  lines.push('');
  lines.push(
    'Calls made by the flows above (min / mean / max over the calls). Functions not listed as measured are',
  );
  lines.push('views or one-time wiring done by `deployAll`.');
  lines.push('');
  lines.push('| contract | function | calls | min | mean | max |');
  lines.push('|---|---|---:|---:|---:|---:|');
  const unmeasured: string[] = [];
  const abis: Record<string, readonly { type: string; name?: string; stateMutability?: string }[]> = {
    Token: bindings.tokenAbi,
    Registry: bindings.registryAbi,
    Market: bindings.marketAbi,
    Settlement: bindings.settlementAbi,
    WitnessPool: bindings.witnessPoolAbi,
    AttestationLog: bindings.attestationLogAbi,
  };
  for (const name of CONTRACTS) {
    const fns = abis[name]!.filter(
      (f) => f.type === 'function' && f.stateMutability !== 'view' && f.stateMutability !== 'pure',
    );
    for (const f of fns) {
      const labels = [...ch.gas.keys()].filter(
        (l) => l === `${name}.${f.name}` || l.startsWith(`${name}.${f.name} (`),
      );
      if (labels.length === 0) {
        unmeasured.push(`${name}.${f.name}`);
        continue;
      }
      for (const l of labels) {
        const xs = ch.gas.get(l)!;
        const mean = xs.reduce((a, b) => a + b, 0n) / BigInt(xs.length);
        lines.push(
          `| ${name} | ${l.slice(name.length + 1)} | ${xs.length} | ${fmt(min(xs))} | ${fmt(mean)} | ${fmt(max(xs))} |`,
        );
      }
    }
  }
  lines.push('');
  lines.push(
    `Not measured as a transaction of its own: ${unmeasured.map((u) => `\`${u}\``).join(', ')} (called by another contract or by \`deployAll\`; their cost is inside the caller's numbers above, and in the next table).`,
  );
  lines.push('');
  lines.push(...probeSection(), ...forgeSection());
  return lines.join('\n');
}

/**
 * `Settlement.redeemProbes` as `test_gas_redeemProbes` (contracts/test/ProbeGrants.t.sol) measures it:
 * the test logs, per case, the call frame, the calldata gas and the transaction.
 */
function probeSection(): string[] {
  const { output } = runForge(['test', '--match-test', 'test_gas_redeemProbes', '-vv']);
  const cases = new Map<string, Record<string, number>>();
  for (const m of output.matchAll(/^\s*(redeemProbes [^:]+): (call frame|calldata|transaction): (\d+)$/gm)) {
    const c = cases.get(m[1]!) ?? {};
    c[m[2]!] = Number(m[3]);
    cases.set(m[1]!, c);
  }
  const lines = [
    '## Hidden-probe redemption (forge)',
    '',
    '`Settlement.redeemProbes`, measured by `test_gas_redeemProbes` in `contracts/test/ProbeGrants.t.sol`:',
    "the call frame with the Settlement's and the token's storage cold, plus 21,000 intrinsic gas and the",
    'calldata (EIP-2028; the EIP-7623 floor is lower). Two signature recoveries (grant, voucher), the',
    "lease's two slots (open lease), the witness's `probePaid` slot, the budget write and the token",
    'transfer to the provider.',
    '',
  ];
  if (cases.size === 0) return [...lines, '(forge did not report the measurement)', ''];
  lines.push('| what | call frame | calldata | transaction |', '|---|---:|---:|---:|');
  for (const [what, g] of cases)
    lines.push(`| ${what} | ${fmt(g['call frame']!)} | ${fmt(g.calldata!)} | ${fmt(g.transaction!)} |`);
  lines.push('');
  return lines;
}

interface ForgeGas {
  contract: string;
  deployment: { gas: number; size: number };
  functions: Record<string, { calls: number; min: number; median: number; max: number }>;
}

/**
 * Every function as the forge unit tests call it (`forge test --gas-report`). forge runs each
 * state-changing call of a test as a transaction of its own (isolation), so those numbers include the
 * intrinsic gas and calldata like anvil's; views are the call frame only.
 */
function forgeSection(): string[] {
  const unitTests =
    'test/{Lifecycle,Market,Settlement,WitnessPool,Registry,Token,AttestationLog,GasProbes}.t.sol';
  const args = ['test', '--gas-report', '--match-path', unitTests];
  const { status, output } = runForge([...args, '--json']);
  const json = output.slice(output.indexOf('[{'), output.lastIndexOf('}]') + 2);
  if (json.length < 2) return ['(forge gas report unavailable)', ''];
  const reports = JSON.parse(json) as ForgeGas[];
  const lines = [
    '## Every function, from the forge unit tests',
    '',
    '`forge test --gas-report` over the unit tests. forge 1.7 runs every state-changing call a test makes',
    'as a transaction of its own, so these numbers include the 21,000 intrinsic gas and calldata, as on',
    'anvil (views: the call frame only). Calls that revert are included, which pulls the minimum down, and',
    'the tests call with their own arguments (fresh accounts, cold slots), so the flows above are the',
    'better guide. `GasProbes.t.sol` calls the contract-to-contract functions (`lockCollateral`,',
    "`slashCollateral`, `releaseCollateral`, `penalizeWitness`, `openLease`, `closeLease`, the pool's",
    '`requestRound`, `onRoundSettled`) as their authorised caller so they appear here.',
    '',
  ];
  if (status !== 0) {
    // --json leaves out the test results: run again for the names of the failing tests
    const failed = runForge(args)
      .output.split('\n')
      .filter((l) => l.startsWith('[FAIL'))
      .map((l) => `- ${l.trim()}`);
    lines.push(
      `forge exited with status ${status} under \`--gas-report\`; failing in that mode (the numbers below still cover every call made):`,
      '',
      ...[...new Set(failed)],
      '',
    );
  }
  lines.push('| contract | function | calls | min | median | max |', '|---|---|---:|---:|---:|---:|');
  for (const name of CONTRACTS) {
    const r = reports.find((x) => x.contract === `src/${name}.sol:${name}`);
    if (!r) continue;
    lines.push(
      `| ${name} | *deployment* (${fmt(r.deployment.size)} bytes) | 1 | | | ${fmt(r.deployment.gas)} |`,
    );
    for (const [sig, g] of Object.entries(r.functions)) {
      const fn = sig.slice(0, sig.indexOf('('));
      lines.push(`| ${name} | \`${fn}\` | ${g.calls} | ${fmt(g.min)} | ${fmt(g.median)} | ${fmt(g.max)} |`);
    }
  }
  lines.push('');
  return lines;
}

async function main(): Promise<void> {
  const md = await gasReport();
  if (process.argv.includes('--stdout')) {
    process.stdout.write(md);
    return;
  }
  const out = join(here, '..', 'docs', 'gas.md');
  writeFileSync(out, md);
  console.log(`wrote ${out}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();

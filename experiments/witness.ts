import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatEther } from 'ethers';
import { DEFAULT_LEVELS, DEFAULT_PARAMS } from '../contracts/deploy.js';
import { DEFAULT_ALPHA } from '../verifier/probes/sla.js';
import { captureBinomial, captureExact, captureMonteCarlo } from '../verifier/sim/committee.js';
import {
  challengeDeadlineMs,
  epochReality,
  type MeasurementModel,
  observeCapacity,
  type Provider,
  type ProviderKind,
} from '../verifier/sim/measure.js';
import { Prng } from '../verifier/sim/prng.js';
import type { GameParams } from '../verifier/sim/rules.js';
import { epochsUntilFailure, type Lease, makePool, runEpoch } from '../verifier/sim/runner.js';
import { lognormalFromP50P99, p95, wilson } from '../verifier/sim/stats.js';
import { STRATEGIES, type Strategy } from '../verifier/sim/strategies.js';
import type { ExperimentSection } from './section.js';
import { barChart, lineChart } from './svg.js';

/*
 * The witness game, simulated (docs/experiments.md, "witness"): the contracts' own rules
 * (verifier/sim/rules.ts) with DEFAULT_PARAMS, committees drawn as WitnessPool draws them, honest
 * witnesses judging through verifier/probes/sla.ts and the capacity-challenge deadline, against
 * honest, non-serving, under-provisioned and intermittently failing providers.
 */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SEED = 20261206;

const dfs = (wei: bigint) => Number(formatEther(wei));

/** Contract parameters: contracts/deploy.ts DEFAULT_PARAMS; N = 5, M = 3 as the default order terms. */
export const GAME: GameParams = {
  committeeSize: 5,
  majority: 3,
  rewardUnit: dfs(DEFAULT_PARAMS.rewardUnit),
  reputationLoss: Number(DEFAULT_PARAMS.reputationLoss),
  providerSlashBps: Number(DEFAULT_PARAMS.providerSlashBps),
  customerShareBps: Number(DEFAULT_PARAMS.customerShareBps),
  witnessShareBps: Number(DEFAULT_PARAMS.witnessShareBps),
  minWitnessStake: dfs(DEFAULT_PARAMS.minWitnessStake),
  staleGrace: Number(DEFAULT_PARAMS.staleGrace),
};

interface Measured {
  readonly what: string;
  readonly value: string;
  readonly source: string;
}

/** The measurement model's constants: measured where the repo measured them, else stated assumptions. */
function model(): { m: MeasurementModel; table: Measured[] } {
  const session = JSON.parse(readFileSync(join(repoRoot, 'bench/results/session.json'), 'utf8')) as {
    invocations: {
      mode: string;
      payload: number;
      concurrency: number;
      latency: { medianMs: number; p99Ms: number };
    }[];
  };
  const perCall = (payload: number) => {
    const r = session.invocations.find(
      (i) => i.mode === 'per-call' && i.payload === payload && i.concurrency === 1,
    );
    if (!r) throw new Error(`bench/results/session.json has no per-call c=1 case of ${payload} bytes`);
    return r.latency;
  };
  const mib = perCall(1 << 20);
  const kib = perCall(1024);
  // The 4 MiB product (n = 1024, int32 entries) is returned through the session: twice the bytes a
  // 1 MiB echo moves (1 MiB in, 1 MiB out), so twice its measured latency.
  const one = lognormalFromP50P99(mib.medianMs, mib.p99Ms);
  const challengeOverhead = { medianMs: 2 * one.medianMs, sigma: one.sigma };
  const probeCall = lognormalFromP50P99(kib.medianMs, kib.p99Ms);
  const rtt = { medianMs: 40, sigma: 0.3 };
  const bandwidthGbps = 1;
  const n = 1024;
  const m: MeasurementModel = {
    epochS: Number(DEFAULT_PARAMS.minEpochLength),
    challenges: 3,
    missesToFlag: 2,
    challengeN: n,
    margin: 1.5,
    slackMs: 50,
    rtt,
    challengeOverhead,
    challengeTransferMs: (4 * n * n * 8) / (bandwidthGbps * 1e6),
    rateSigma: 0.2,
    probesPerEpoch: 24,
    minProbes: 10,
    probeCall,
    probeCompute: { medianMs: 50, sigma: 0.5 },
    sla: { availabilityBps: 9990, p95LatencyMs: 300 },
    alpha: DEFAULT_ALPHA,
  };
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const table: Measured[] = [
    {
      what: 'epoch length',
      value: `${m.epochS / 3600} h`,
      source: 'contracts/deploy.ts DEFAULT_PARAMS.minEpochLength (leases may use longer epochs)',
    },
    {
      what: 'claimed capacity R_claimed',
      value: `${DEFAULT_LEVELS[1].minGflops} GFLOP/s`,
      source: `contracts/deploy.ts DEFAULT_LEVELS '${DEFAULT_LEVELS[1].labels}' minGflops (a bid claims at least this)`,
    },
    {
      what: 'session cost of returning the product, per challenge',
      value: `lognormal, median ${ms(challengeOverhead.medianMs)}, σ ${challengeOverhead.sigma.toFixed(3)}`,
      source: `measured: bench/results/session.json per-call 1 MiB c=1 latency p50 ${ms(mib.medianMs)} / p99 ${ms(mib.p99Ms)} (loopback, 1 MiB in + 1 MiB out), ×2 for the 4 MiB product`,
    },
    {
      what: 'session cost of a probe call',
      value: `lognormal, median ${ms(probeCall.medianMs)}, σ ${probeCall.sigma.toFixed(3)}`,
      source: `measured: bench/results/session.json per-call 1 KiB c=1 latency p50 ${ms(kib.medianMs)} / p99 ${ms(kib.p99Ms)}`,
    },
    {
      what: 'challenge size n',
      value: `${n} (2n³ = ${((2 * n ** 3) / 1e9).toFixed(2)} GFLOP, product ${((4 * n * n) / 2 ** 20).toFixed(0)} MiB)`,
      source: 'assumption (protocol/challenge-matrices.ts allows n ≤ 4096)',
    },
    {
      what: 'RTT witness ↔ provider',
      value: `lognormal, median ${rtt.medianMs} ms, σ ${rtt.sigma} (p95 ${ms(p95(rtt))})`,
      source: 'assumption (a WAN path; not measured in the repo)',
    },
    {
      what: 'product transfer',
      value: `${ms(m.challengeTransferMs)} (${bandwidthGbps} Gbit/s)`,
      source: 'assumption',
    },
    {
      what: 'honest provider capacity',
      value: 'uniform 10–20 GFLOP/s per lease, per challenge × lognormal jitter σ 0.2 (median 1)',
      source: 'assumption (matmul GFLOP/s is not measured in the repo)',
    },
    {
      what: 'challenge deadline D',
      value: `RTT_p95 + 1.5 · 2n³/R_claimed + 50 ms = ${ms(challengeDeadlineMs(m, DEFAULT_LEVELS[1].minGflops))}`,
      source: 'the capacity rule; C = 3 challenges per epoch, 2 missed = violation',
    },
    {
      what: 'probes',
      value: `Poisson, mean ${m.probesPerEpoch} per epoch, at least ${m.minProbes}`,
      source: 'assumption (verifier/agent/probes.ts takes the rate as an option)',
    },
    {
      what: 'probe compute (the customer function)',
      value: `lognormal, median ${m.probeCompute.medianMs} ms, σ ${m.probeCompute.sigma}; ×R_claimed/R_true`,
      source: 'assumption',
    },
    {
      what: 'SLA',
      value: `availabilityBps ${m.sla.availabilityBps}, p95LatencyMs ${m.sla.p95LatencyMs}; α = ${DEFAULT_ALPHA} per term`,
      source: 'assumption (order terms); α: verifier/probes/sla.ts DEFAULT_ALPHA',
    },
    {
      what: 'failed calls outside outages',
      value: '10⁻⁴ per call (honest: 10× better than promised)',
      source: 'assumption',
    },
    {
      what: 'intermittent provider',
      value: 'an outage in 20 % of epochs, exponential, mean 20 min (≈ 1.4 % downtime)',
      source: 'assumption',
    },
    {
      what: 'lease collateral, fee share',
      value: `${dfs(DEFAULT_PARAMS.minProviderStake)} DFS, 1 DFS per epoch`,
      source:
        'collateral = max(minProviderStake, fee + budget) (Market.confirmLease), assuming fee + budget below the minimum; fee share: assumption',
    },
  ];
  return { m, table };
}

const CLAIMED = DEFAULT_LEVELS[1].minGflops;

function provider(rng: Prng, kind: ProviderKind, k = 0.5): Provider {
  const base = { kind, claimedGflops: CLAIMED, failProb: 1e-4, outageProbPerEpoch: 0.2, outageMeanS: 1200 };
  switch (kind) {
    case 'honest':
    case 'intermittent':
      return { ...base, trueGflops: rng.uniform(CLAIMED, 2 * CLAIMED) };
    case 'non-serving':
      return { ...base, trueGflops: CLAIMED };
    case 'under-provisioned':
      return { ...base, trueGflops: k * CLAIMED };
  }
}

function lease(p: Provider, cartel: boolean): Lease {
  return {
    provider: p,
    cartel,
    collateral: dfs(DEFAULT_PARAMS.minProviderStake),
    share: 1,
    staleSince: 0,
    failed: false,
  };
}

const pct = (x: number, d = 2) => `${(100 * x).toFixed(d)} %`;
const ci = (k: number, n: number) => {
  const w = wilson(k, n);
  return `[${pct(w.lo, 3)}, ${pct(w.hi, 3)}]`;
};

// ---------------------------------------------------------------- (1) epochs until slashed

function epochsToSlash(m: MeasurementModel, log: (s: string) => void) {
  const rng = new Prng(SEED + 1);
  const lazyShares = [0, 0.2, 0.4, 0.5, 0.6];
  const kinds: { kind: ProviderKind; label: string }[] = [
    { kind: 'non-serving', label: 'non-serving' },
    { kind: 'under-provisioned', label: 'under-provisioned (50 % of claim)' },
    { kind: 'intermittent', label: 'intermittent' },
  ];
  const leases = 1000;
  const maxEpochs = 60;
  const rows = kinds.map(({ kind, label }) => ({
    kind,
    label,
    points: lazyShares.map((lazy) => {
      const pool = makePool(200, { lazy });
      const epochs: number[] = [];
      for (let i = 0; i < leases; i++)
        epochs.push(epochsUntilFailure(rng, pool, lease(provider(rng, kind), false), m, GAME, maxEpochs));
      epochs.sort((a, b) => a - b);
      log(
        `(1) ${label}, lazy ${pct(lazy, 0)}: ${leases} leases, mean ${(epochs.reduce((x, e) => x + e, 0) / leases).toFixed(2)} epochs`,
      );
      const mean = epochs.reduce((s, e) => s + e, 0) / leases;
      return {
        lazy,
        leases,
        mean,
        median: epochs[Math.floor(leases / 2)]!,
        p95: epochs[Math.floor(0.95 * leases)]!,
        firstEpoch: epochs.filter((e) => e === 1).length / leases,
        neverWithin: epochs.filter((e) => e > maxEpochs).length / leases,
      };
    }),
  }));
  return { maxEpochs, rows };
}

// ---------------------------------------------------------------- (2) false slashes, margins, under-provisioning

function falseSlash(m: MeasurementModel, log: (s: string) => void) {
  const rng = new Prng(SEED + 2);
  const pool = makePool(200, {});
  const epochs = 20_000;
  let slashed = 0;
  let flags = 0;
  let observations = 0;
  for (let e = 0; e < epochs; e++) {
    const l = lease(provider(rng, 'honest'), false);
    const r = runEpoch(rng, pool, l, 0, m, GAME);
    if (r.fails) slashed++;
    flags += r.honestViolationReports;
    observations += GAME.committeeSize;
    if ((e + 1) % 5000 === 0) log(`(2) honest providers: ${e + 1}/${epochs} epochs, ${slashed} slashed`);
  }
  // Deadline margin × k-of-3 rule, capacity challenges only (the probes do not depend on either).
  const margins = [1.0, 1.25, 1.5, 2.0, 3.0];
  const rules = [1, 2, 3];
  const sweepEpochs = 20_000;
  const sweep = margins.map((margin) => {
    const mm = { ...m, margin };
    const witnessFlags = rules.map(() => 0);
    const committeeSlash = rules.map(() => 0);
    for (let e = 0; e < sweepEpochs; e++) {
      const p = provider(rng, 'honest');
      const reality = epochReality(rng, p, mm);
      const misses = Array.from(
        { length: GAME.committeeSize },
        () => observeCapacity(rng, p, reality, mm).misses,
      );
      rules.forEach((k, i) => {
        const flagged = misses.filter((x) => x >= k).length;
        witnessFlags[i]! += flagged;
        if (flagged >= GAME.majority) committeeSlash[i]! += 1;
      });
    }
    return {
      margin,
      rules: rules.map((k, i) => ({
        missesToFlag: k,
        witnessFlagRate: witnessFlags[i]! / (sweepEpochs * GAME.committeeSize),
        slashRate: committeeSlash[i]! / sweepEpochs,
        slashes: committeeSlash[i]!,
        epochs: sweepEpochs,
      })),
    };
  });
  log(`(2) margin × rule sweep: ${margins.length} × ${rules.length}, ${sweepEpochs} epochs each`);
  // Under-provisioned providers: detection vs the share of the claim they have.
  const ks = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
  const detEpochs = 4000;
  const detection = ks.map((k) => {
    let slashes = 0;
    let witnessFlags = 0;
    for (let e = 0; e < detEpochs; e++) {
      const r = runEpoch(rng, pool, lease(provider(rng, 'under-provisioned', k), false), 0, m, GAME);
      if (r.fails) slashes++;
      witnessFlags += r.honestViolationReports;
    }
    return {
      k,
      epochs: detEpochs,
      slashRate: slashes / detEpochs,
      witnessFlagRate: witnessFlags / (detEpochs * 5),
    };
  });
  log(`(2) under-provisioned detection: ${ks.length} levels × ${detEpochs} epochs`);
  return { epochs, slashed, witnessFlags: flags, observations, sweep, detection };
}

// ---------------------------------------------------------------- (3) committee capture

function capture(log: (s: string) => void) {
  const rng = new Prng(SEED + 3);
  const poolSize = 200;
  const trials = 100_000;
  const fs = [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5];
  const rows = fs.map((f) => {
    const k = Math.round(f * poolSize);
    const mc = captureMonteCarlo(rng, poolSize, k, GAME.committeeSize, GAME.majority, trials);
    return {
      f,
      adversarial: k,
      poolSize,
      trials,
      monteCarlo: mc,
      ci: wilson(Math.round(mc * trials), trials),
      hypergeometric: captureExact(poolSize, k, GAME.committeeSize, GAME.majority),
      binomial: captureBinomial(f, GAME.committeeSize, GAME.majority),
    };
  });
  log(`(3) capture: ${fs.length} fractions × ${trials} draws from a pool of ${poolSize}`);
  return { rows };
}

// ---------------------------------------------------------------- (4) witness income

interface IncomeCell {
  readonly perSeat: Record<Strategy, number>;
  /** Standard error of perSeat. */
  readonly se: Record<Strategy, number>;
  readonly seats: Record<Strategy, number>;
  /** Mean and largest deviation gain per seat (runEpoch's deviationGains: payoff minus the truth's). */
  readonly gain: Record<Strategy, number>;
  readonly gainMax: Record<Strategy, number>;
  readonly outcomes: Record<string, number>;
}

const INCOME_POPULATIONS = [
  {
    name: 'honest 70 %, lazy 15 %, colluding 10 %, absent 5 %',
    shares: { lazy: 0.15, colluding: 0.1, absent: 0.05 },
  },
  {
    name: 'honest 70 %, lazy 15 %, informed cartel 10 %, absent 5 %',
    shares: { lazy: 0.15, informed: 0.1, absent: 0.05 },
  },
  { name: 'honest 80 %, lazy 20 %', shares: { lazy: 0.2 } },
];

/**
 * The slash shares the contracts allow (WitnessPool.Params) but DEFAULT_PARAMS sets to 0: half of a
 * slash to the customer, a quarter split among the violation reporters. The income experiment runs
 * them beside the defaults to show what a share pays a false report.
 */
export const WITH_SLASH_SHARES: GameParams = { ...GAME, customerShareBps: 5000, witnessShareBps: 2500 };

function incomeCell(
  rng: Prng,
  pool: readonly Strategy[],
  cheatShare: number,
  epochs: number,
  m: MeasurementModel,
  game: GameParams,
): IncomeCell & { cheatShare: number } {
  const zero = () => Object.fromEntries(STRATEGIES.map((s) => [s, 0])) as Record<Strategy, number>;
  const [sum, sumSq, seats, gainSum, gainMax] = [zero(), zero(), zero(), zero(), zero()];
  const outcomes: Record<string, number> = {};
  for (let e = 0; e < epochs; e++) {
    // Cheating providers (half non-serving, half at 50 % of their claim) are the cartel's allies;
    // honest providers are its targets.
    const cheat = rng.bernoulli(cheatShare);
    const kind: ProviderKind = cheat ? (rng.bernoulli(0.5) ? 'non-serving' : 'under-provisioned') : 'honest';
    const l = lease(provider(rng, kind), cheat);
    const r = runEpoch(rng, pool, l, 0, m, game, { deviation: true });
    const key = `${cheat ? 'cheating' : 'honest'} provider → ${r.verdict}`;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    r.strategies.forEach((s, i) => {
      sum[s] += r.payoffs[i]!;
      sumSq[s] += r.payoffs[i]! ** 2;
      seats[s] += 1;
      const g = r.deviationGains![i]!;
      gainSum[s] += g;
      gainMax[s] = Math.max(gainMax[s], g);
    });
  }
  const per = (x: Record<Strategy, number>) =>
    Object.fromEntries(STRATEGIES.map((s) => [s, seats[s] > 0 ? x[s] / seats[s] : Number.NaN])) as Record<
      Strategy,
      number
    >;
  const se = Object.fromEntries(
    STRATEGIES.map((s) => {
      const n = seats[s];
      if (n < 2) return [s, Number.NaN];
      const mean = sum[s] / n;
      return [s, Math.sqrt(Math.max(0, sumSq[s] / n - mean * mean) / (n - 1))];
    }),
  ) as Record<Strategy, number>;
  return { cheatShare, perSeat: per(sum), se, seats, gain: per(gainSum), gainMax, outcomes };
}

function income(m: MeasurementModel, log: (s: string) => void) {
  const rng = new Prng(SEED + 4);
  const cheatShares = [0, 0.1, 0.3, 0.5];
  const epochs = 30_000;
  const out = INCOME_POPULATIONS.map((pop) => {
    const pool = makePool(200, pop.shares);
    const cells = cheatShares.map((c) => incomeCell(rng, pool, c, epochs, m, GAME));
    log(`(4) income: ${pop.name}: ${cheatShares.length} provider mixes × ${epochs} epochs`);
    return { population: pop.name, shares: pop.shares, cells };
  });
  // The same cartels with slash shares, honest providers only: what a false conviction pays then.
  const sharesEpochs = 10_000;
  const withShares = INCOME_POPULATIONS.slice(0, 2).map((pop) => {
    const cell = incomeCell(rng, makePool(200, pop.shares), 0, sharesEpochs, m, WITH_SLASH_SHARES);
    log(`(4) income with slash shares: ${pop.name}: ${sharesEpochs} epochs`);
    return { population: pop.name, cell };
  });
  return { epochs, cheatShares, populations: out, sharesEpochs, withShares };
}

// ---------------------------------------------------------------- report

export async function experimentWitness(log: (line: string) => void): Promise<ExperimentSection> {
  const t0 = performance.now();
  const { m, table } = model();
  const one = epochsToSlash(m, log);
  const two = falseSlash(m, log);
  const three = capture(log);
  const four = income(m, log);
  const seconds = (performance.now() - t0) / 1000;
  log(`done in ${seconds.toFixed(1)} s`);

  const plots: Record<string, string> = {
    'witness-epochs-to-slash.svg': lineChart({
      title: 'Epochs until a violating provider is slashed',
      xLabel: 'lazy witnesses in the pool (share)',
      yLabel: 'mean epochs (capped at 61)',
      series: one.rows.map((r) => ({
        name: r.label.replace(' (50 % of claim)', ' 50 %'),
        points: r.points.map((p) => [p.lazy, p.mean] as const),
      })),
      hLines: [{ y: 1, label: 'target: first epoch' }],
    }),
    'witness-false-slash-margin.svg': lineChart({
      title: 'Honest providers: capacity false-slash rate per epoch',
      xLabel: 'deadline margin on the claimed compute time (×)',
      yLabel: 'committee slash rate (log)',
      logY: true,
      series: [1, 2, 3].map((k, i) => ({
        name: `${k} of 3 missed`,
        points: two.sweep.map(
          (s) => [s.margin, Math.max(s.rules[i]!.slashRate, 1 / s.rules[i]!.epochs / 2)] as const,
        ),
      })),
      hLines: [{ y: 0.001, label: 'target 0.1 %' }],
    }),
    'witness-underprovisioned.svg': lineChart({
      title: 'Under-provisioned providers: detection per epoch',
      xLabel: 'capacity actually present (share of the claim)',
      yLabel: 'rate per epoch',
      series: [
        { name: 'slashed (committee)', points: two.detection.map((d) => [d.k, d.slashRate] as const) },
        {
          name: 'flagged (one witness)',
          points: two.detection.map((d) => [d.k, d.witnessFlagRate] as const),
          dashed: true,
        },
      ],
    }),
    'witness-capture.svg': lineChart({
      title: 'Committee capture: P(≥ 3 of 5 adversarial)',
      xLabel: 'adversarial share f of the pool',
      yLabel: 'probability (log)',
      logY: true,
      series: [
        {
          name: 'Monte Carlo (pool 200)',
          points: three.rows.filter((r) => r.f > 0).map((r) => [r.f, r.monteCarlo] as const),
        },
        {
          name: 'hypergeometric',
          points: three.rows.filter((r) => r.f > 0).map((r) => [r.f, r.hypergeometric] as const),
          dashed: true,
        },
        {
          name: 'binomial',
          points: three.rows.filter((r) => r.f > 0).map((r) => [r.f, r.binomial] as const),
          dashed: true,
        },
      ],
      hLines: [{ y: 0.01, label: 'target 1 % at f = 10 %' }],
    }),
    ...Object.fromEntries(
      four.populations.map((p, i) => [
        `witness-income-${i + 1}.svg`,
        barChart({
          title: 'Witness income per seat-epoch, by strategy',
          xLabel: `pool: ${p.population}`,
          yLabel: 'DFS per seat-epoch',
          categories: four.cheatShares.map((c) => `${pct(c, 0)} cheating`),
          groups: STRATEGIES.filter((s) => p.cells[0]!.seats[s] > 0).map((s) => ({
            name: s,
            values: p.cells.map((c) => c.perSeat[s]),
          })),
        }),
      ]),
    ),
  };

  const results = {
    seed: SEED,
    seconds,
    params: GAME,
    model: m,
    constants: table,
    epochsToSlash: one,
    falseSlash: two,
    capture: three,
    income: four,
  };
  return { name: 'witness', results, markdown: report(results), plots };
}

type Results = {
  seconds: number;
  constants: Measured[];
  epochsToSlash: ReturnType<typeof epochsToSlash>;
  falseSlash: ReturnType<typeof falseSlash>;
  capture: ReturnType<typeof capture>;
  income: ReturnType<typeof income>;
};

function report(r: Results): string {
  const L: string[] = [];
  const one = r.epochsToSlash;
  const two = r.falseSlash;
  const three = r.capture;
  const four = r.income;
  const ns = one.rows.find((x) => x.kind === 'non-serving')!;
  const ns0 = ns.points[0]!;
  const honestRate = two.slashed / two.epochs;
  const f10 = three.rows.find((x) => x.f === 0.1)!;
  L.push('## The witness game, simulated', '');
  L.push(
    `Generated by \`npm run experiments -- witness\` (\`experiments/witness.ts\`, model in \`verifier/sim/\`); raw results in \`experiments/results/witness.json\`; seed ${SEED}; ${r.seconds.toFixed(0)} s on one core.`,
    '',
  );
  L.push('### Targets', '', '| target | measured | met |', '|---|---|:---:|');
  L.push(
    `| (1) a non-serving provider is slashed in its first epoch (all-honest pool) | ${pct(ns0.firstEpoch, 1)} of ${ns0.leases} leases in epoch 1 (mean ${ns0.mean.toFixed(2)} epochs) | ${ns0.firstEpoch === 1 ? 'yes' : '**no**'} |`,
  );
  const w = wilson(two.slashed, two.epochs);
  L.push(
    `| (2) honest providers falsely slashed ≤ 0.1 % per epoch | ${two.slashed} of ${two.epochs} epochs = ${pct(honestRate, 3)}, 95 % CI ${ci(two.slashed, two.epochs)} | ${w.hi <= 0.001 ? 'yes' : honestRate <= 0.001 ? 'point estimate yes, CI reaches above' : '**no**'} |`,
  );
  L.push(
    `| (3) capture ≤ 1 % at f = 10 %, N = 5, M = 3 | binomial ${pct(f10.binomial, 3)}; pool of ${f10.poolSize}: exact ${pct(f10.hypergeometric, 3)}, Monte Carlo ${pct(f10.monteCarlo, 3)} ${ci(Math.round(f10.monteCarlo * f10.trials), f10.trials)} | ${f10.binomial <= 0.01 ? 'yes' : '**no**'} |`,
  );
  const dominated = incomeVerdict(four);
  L.push(
    `| (4) no slash share reaches a false report: a lie gains at most 2 · rewardUnit over the truth | ${dominated.summary} | ${dominated.met ? 'yes' : '**no**'} |`,
    '',
  );

  L.push('### Model', '');
  L.push(
    "Each epoch a committee of N = 5 is drawn uniformly without replacement from a pool of 200 eligible witnesses (WitnessPool._select); each member reveals by its strategy; the round is settled by WitnessPool.finalize (outcome by `_outcome`, payoffs by `_payMembers`, slash by `_slash`) and the epoch by Market.onRoundSettled / `_settleEpoch` (`verifier/sim/rules.ts`, each function names the one it mirrors). An honest witness observes the epoch (`verifier/sim/measure.ts`): 3 capacity challenges at uniform times with deadline D = RTT_p95 + 1.5 · 2n³/R_claimed + 50 ms, 2 missed = Unavailable; and hidden probes at Poisson times judged by `judgeSla` (`verifier/probes/sla.ts`); the more severe verdict wins. Witnesses observe independently (their own challenge and probe times and network samples); an outage is shared by all. Strategies (`verifier/sim/strategies.ts`): honest; lazy (always Ok, no checks); colluding (Ok for the cartel's provider, Unavailable against every other); absent (no reveal).",
    '',
  );
  L.push('| constant | value | source |', '|---|---|---|');
  for (const c of r.constants) L.push(`| ${c.what} | ${c.value} | ${c.source} |`);
  L.push(
    '',
    `Contract parameters (contracts/deploy.ts DEFAULT_PARAMS): rewardUnit ${GAME.rewardUnit} DFS, no-reveal penalty 2 · rewardUnit, providerSlashBps ${GAME.providerSlashBps}, customerShareBps ${GAME.customerShareBps}, witnessShareBps ${GAME.witnessShareBps}, minWitnessStake ${GAME.minWitnessStake} DFS, staleGrace ${GAME.staleGrace / 86400} days.`,
    '',
  );

  L.push('### (1) Epochs until a violating provider is slashed', '');
  L.push('![epochs until slashed](experiments/witness-epochs-to-slash.svg)', '');
  L.push(
    `${ns0.leases} leases per cell, each run until it fails or ${one.maxEpochs} epochs; lazy witnesses report Ok without checking, so a conviction needs 3 honest members of 5.`,
    '',
  );
  L.push(
    '| provider | lazy share | mean epochs | median | p95 | slashed in epoch 1 | not within ' +
      one.maxEpochs +
      ' |',
    '|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const row of one.rows)
    for (const p of row.points)
      L.push(
        `| ${row.label} | ${pct(p.lazy, 0)} | ${p.mean.toFixed(2)} | ${p.median} | ${p.p95 > one.maxEpochs ? `> ${one.maxEpochs}` : p.p95} | ${pct(p.firstEpoch, 1)} | ${pct(p.neverWithin, 1)} |`,
      );
  L.push('');

  L.push('### (2) False slashes of honest providers', '');
  L.push(
    `${two.epochs} epochs of honest providers (a fresh provider per epoch, capacity uniform in 10–20 GFLOP/s on a claim of ${CLAIMED}) before an all-honest pool: **${two.slashed} slashed (${pct(honestRate, 3)}, 95 % Wilson CI ${ci(two.slashed, two.epochs)})**. One witness alone flagged ${two.witnessFlags} of ${two.observations} observations (${pct(two.witnessFlags / two.observations, 3)}, CI ${ci(two.witnessFlags, two.observations)}); each such flag on an Ok outcome costs that witness rewardUnit of stake (WitnessPool._payMembers). The worst honest case, a provider with exactly its claimed capacity, is the 100 % row of the under-provisioning table below.`,
    '',
  );
  L.push('![false slash vs margin](experiments/witness-false-slash-margin.svg)', '');
  L.push(
    'Capacity challenges only (probes do not depend on the margin or the rule), honest providers, ' +
      `${two.sweep[0]!.rules[0]!.epochs} epochs per margin; a rate of 0 is drawn at half of 1/epochs on the log plot.`,
    '',
  );
  L.push(
    '| margin | rule | one witness flags | committee slashes (3 of 5) | 95 % CI |',
    '|---:|---|---:|---:|---|',
  );
  for (const s of two.sweep)
    for (const x of s.rules)
      L.push(
        `| ${s.margin}× | ${x.missesToFlag} of 3 missed | ${pct(x.witnessFlagRate, 3)} | ${pct(x.slashRate, 3)} | ${ci(x.slashes, x.epochs)} |`,
      );
  L.push('', '![under-provisioned detection](experiments/witness-underprovisioned.svg)', '');
  L.push('| capacity present | epochs | slashed per epoch | one witness flags |', '|---:|---:|---:|---:|');
  for (const d of two.detection)
    L.push(
      `| ${pct(d.k, 0)} of claim | ${d.epochs} | ${pct(d.slashRate, 2)} | ${pct(d.witnessFlagRate, 2)} |`,
    );
  L.push('');

  L.push('### (3) Committee capture', '');
  L.push('![capture](experiments/witness-capture.svg)', '');
  L.push(
    '| f | adversarial of 200 | Monte Carlo | 95 % CI | exact (hypergeometric) | binomial (unbounded pool) |',
    '|---:|---:|---:|---|---:|---:|',
  );
  for (const x of three.rows)
    L.push(
      `| ${pct(x.f, 0)} | ${x.adversarial} | ${pct(x.monteCarlo, 3)} | ${ci(Math.round(x.monteCarlo * x.trials), x.trials)} | ${pct(x.hypergeometric, 3)} | ${pct(x.binomial, 3)} |`,
    );
  L.push('');

  L.push('### (4) Witness income per strategy', '');
  four.populations.forEach((p, i) => {
    L.push(
      `**${p.population}** (${four.epochs} epochs per mix):`,
      '',
      `![income ${i + 1}](experiments/witness-income-${i + 1}.svg)`,
      '',
    );
    const strategies = STRATEGIES.filter((s) => p.cells[0]!.seats[s] > 0);
    L.push(
      `| cheating providers | ${strategies.join(' | ')} | outcomes |`,
      `|---:|${strategies.map(() => '---:').join('|')}|---|`,
    );
    for (const c of p.cells)
      L.push(
        `| ${pct(c.cheatShare, 0)} | ${strategies.map((s) => `${c.perSeat[s].toFixed(4)} ± ${c.se[s].toFixed(4)}`).join(' | ')} | ${Object.entries(
          c.outcomes,
        )
          .sort()
          .map(([k, v]) => `${k}: ${v}`)
          .join('; ')} |`,
      );
    L.push('');
  });
  L.push(
    "DFS per seat-epoch (a member's payoff in the rounds it sat in, averaged) ± its standard error. Slashed collateral is burned (customerShareBps = witnessShareBps = 0), so every payoff is a rewardUnit-sized fee or penalty.",
    '',
  );
  L.push(
    '**Gain over the truth.** For every non-honest member of every round the simulation also settles the round with that member alone reporting what its own honest measurement of the same epoch says, every other reveal unchanged; the difference is what departing from the truth earned it. Mean per seat-epoch (largest in one round):',
    '',
  );
  const gainCell = (c: IncomeCell, s: Strategy) => `${c.gain[s].toFixed(4)} (${c.gainMax[s].toFixed(2)})`;
  for (const p of four.populations) {
    const strategies = STRATEGIES.filter((s) => s !== 'honest' && p.cells[0]!.seats[s] > 0);
    L.push(
      `| ${p.population}: cheating providers | ${strategies.join(' | ')} |`,
      `|---:|${strategies.map(() => '---:').join('|')}|`,
    );
    for (const c of p.cells)
      L.push(`| ${pct(c.cheatShare, 0)} | ${strategies.map((s) => gainCell(c, s)).join(' | ')} |`);
    L.push('');
  }
  L.push(
    `The same cartels with slash shares (customerShareBps 5000, witnessShareBps 2500, which the contracts accept and DEFAULT_PARAMS does not set), honest providers only, ${four.sharesEpochs} epochs:`,
    '',
    '| pool | strategy | income per seat-epoch | gain over the truth (largest) | honest income |',
    '|---|---|---:|---:|---:|',
  );
  for (const w of four.withShares)
    for (const s of STRATEGIES.filter((x) => x !== 'honest' && w.cell.seats[x] > 0))
      L.push(
        `| ${w.population} | ${s} | ${w.cell.perSeat[s].toFixed(4)} | ${gainCell(w.cell, s)} | ${w.cell.perSeat.honest.toFixed(4)} |`,
      );
  L.push('', dominated.text, '');
  L.push(...analysis(r));
  return L.join('\n');
}

/**
 * Target (4): no slash share reaches a false report. Under the defaults a member's report moves only
 * its own rewardUnit-sized payoff (−rewardUnit for a failed flag, 0 or +rewardUnit otherwise), so no
 * strategy can gain more than 2 · rewardUnit over its own honest report in a round, whatever
 * collateral the round destroys. Met when the largest gain seen in every default cell stays there.
 */
function incomeVerdict(four: ReturnType<typeof income>): { met: boolean; summary: string; text: string } {
  const bound = 2 * GAME.rewardUnit + 1e-9;
  let worst = { gain: Number.NEGATIVE_INFINITY, strategy: 'honest' as Strategy, cheat: 0, population: '' };
  for (const p of four.populations)
    for (const c of p.cells)
      for (const s of STRATEGIES)
        if (c.seats[s] > 0 && c.gainMax[s] > worst.gain)
          worst = { gain: c.gainMax[s], strategy: s, cheat: c.cheatShare, population: p.population };
  const shares = Math.max(
    ...four.withShares.flatMap((w) =>
      STRATEGIES.filter((s) => w.cell.seats[s] > 0).map((s) => w.cell.gainMax[s]),
    ),
  );
  const met = worst.gain <= bound;
  return {
    met,
    summary: `largest gain of any strategy over its own honest report: ${worst.gain.toFixed(2)} DFS (${worst.strategy}, ${pct(worst.cheat, 0)} cheating), bound 2 · rewardUnit = ${(2 * GAME.rewardUnit).toFixed(2)}; with slash shares ${shares.toFixed(2)}`,
    text: met
      ? `No strategy ever gained more than ${worst.gain.toFixed(2)} DFS in a round over its own honest report (${worst.strategy}; 2 · rewardUnit = ${(2 * GAME.rewardUnit).toFixed(2)} bounds it), against ${shares.toFixed(2)} DFS with slash shares.`
      : `A strategy gained ${worst.gain.toFixed(2)} DFS over its own honest report (${worst.strategy}, ${pct(worst.cheat, 0)} cheating, ${worst.population}), above 2 · rewardUnit.`,
  };
}

/** The collusion arithmetic, the rules as read, and what the rules still leave open. */
function analysis(r: Results): string[] {
  const W = 200;
  const K = 20;
  const { committeeSize: N, majority: M, rewardUnit: unit } = GAME;
  const collateral = dfs(DEFAULT_PARAMS.minProviderStake);
  const slash = (collateral * GAME.providerSlashBps) / 10_000;
  const share = (slash * WITH_SLASH_SHARES.witnessShareBps) / 10_000;
  const toCustomer = (slash * WITH_SLASH_SHARES.customerShareBps) / 10_000;
  // A colluding member's committee: the other N − 1 seats drawn from W − 1 witnesses, K − 1 colluding.
  let pCap = 0;
  let gain = 0;
  for (let k = M - 1; k <= N - 1; k++) {
    const pk = captureExact(W - 1, K - 1, N - 1, k) - captureExact(W - 1, K - 1, N - 1, k + 1);
    pCap += pk;
    gain += pk * (unit + share / (k + 1));
  }
  const evShares = gain - (1 - pCap) * unit;
  const evBurn = pCap * unit - (1 - pCap) * unit;
  const lazy40 = r.epochsToSlash.rows
    .find((x) => x.kind === 'non-serving')!
    .points.find((p) => p.lazy === 0.4)!;
  const informed0 = r.income.populations[1]!.cells[0]!;
  const lazy0 = r.income.populations[2]!.cells[0]!;
  return [
    '### Why the slash is burned, in numbers',
    '',
    `- **A slash share is a bribe for false reports.** A member of a cartel of ${K} in a pool of ${W} (f = 10 %) sits with at least ${M - 1} fellow members among the other ${N - 1} seats with probability ${pct(pCap, 2)} (hypergeometric). With witnessShareBps ${WITH_SLASH_SHARES.witnessShareBps}, a false Unavailable against an honest provider then pays rewardUnit plus an equal part of witnessShareBps · providerSlashBps · collateral = ${share} DFS (collateral ${collateral} DFS) and otherwise costs rewardUnit: ${evShares.toFixed(3)} DFS expected per seat, against ${unit} for an honest Ok. With the slash burned the same lie is worth ${evBurn.toFixed(3)} DFS per seat (it pays rewardUnit only on a capture and costs rewardUnit otherwise): a naive cartel loses money.`,
    `- **The committee is public before anyone commits.** WitnessPool.drawCommittee emits the members (CommitteeDrawn), so a cartel knows whether it holds M seats and lies only then (strategy "informed"): it never pays for a failed report. With a slash share it collects up to ${(share / M).toFixed(2)} DFS per member on every capture; with the slash burned it collects the rewardUnit an agreeing member gets (${unit} DFS) where the truth would have earned 0, a mean gain of ${informed0.gain.informed.toFixed(4)} DFS per seat-epoch in the simulated pool. A customer in a cartel would likewise have received customerShareBps of the slash (${toCustomer} DFS per false conviction); with it at 0 a false conviction pays nobody. What is left is griefing: a cartel can still burn an honest provider's collateral when it captures a committee (target 3 bounds how often), but it earns no more than a rewardUnit for it.`,
    `- **Lazy witnesses.** Laziness is not a lie the rules can see: the contract cannot tell a lazy Ok from an honest one. With no cheating provider a lazy witness gains ${lazy0.gain.lazy.toFixed(4)} DFS per seat-epoch over its own honest measurement (it never pays for a false flag; checking costs it nothing); with cheating providers it loses the reward an honest conviction earns. Their Ok reports are votes for acquittal: with 40 % lazy witnesses a non-serving provider survives its first epoch in ${pct(1 - lazy40.firstEpoch, 1)} of leases. Rules that could punish laziness need ground truth the chain does not have: audited rounds (known-bad canary leases run by customers or auditors, with Ok reports on them penalised) or evidence checked after the fact (the revealed evidence hash names a bundle of challenge and probe records that can be re-verified).`,
    '- **Acquittals purge honest witnesses.** When lazy or cartel members acquit a violating provider, every honest member that reported the violation loses rewardUnit of stake (WitnessPool._payMembers) and, staked at exactly minWitnessStake, drops out of the eligible list (Registry.penalizeWitness → _syncEligibility) until it tops up. The simulation keeps the pool static (members top up); in a real pool each acquittal shrinks the honest share a little. Witnesses should stake above the minimum (the demo stakes twice it).',
    '- **Still open.** A committee kept secret until the commit deadline (each witness proves its own seat at reveal, e.g. a VRF over the seed) would stop an informed cartel from knowing when it holds M seats; the contracts do not do this.',
    '',
    '### Contract rules that needed a reading',
    '',
    "- **Capacity misses have no verdict of their own.** The pool knows Ok, Fraud, Unavailable and Stale; a capacity violation (2 of 3 challenge deadlines missed) is modelled as Unavailable (answers not delivered in time); a wrong product would be Fraud. The deadline formula and the 2-of-3 rule are the witness agent's (verifier/agent/capacity.ts, docs/witness.md), not the contracts'.",
    '- **The majority is of the committee, not of the reveals.** WitnessPool._outcome compares counts with M whatever the number of reveals, so a member that does not reveal counts like an Ok report for the outcome (it pays 2 · rewardUnit for it). Modelled exactly so.',
    '- **"Agreeing".** A violation report agrees with both Fraud and Unavailable outcomes; an Ok report on a Stale outcome and a Stale report on an Ok outcome earn 0 (not a penalty); an Ok or Stale report on a violation outcome earns 0. Only violation reports on an Ok/Stale outcome and missing reveals are penalised (WitnessPool._payMembers).',
    "- **One slash per lease.** The slash is providerSlashBps of the collateral left, and only when Market.onRoundSettled counted the report; a violation fails the lease, so later rounds slash nothing. The simulation's leases stop at their first violation outcome.",
    '- **The draw.** WitnessPool._select rejection-samples positions of the eligible list frozen at the request, with a fallback scan when 4·N draws fail; with a static list this is a uniform draw without replacement, which is what the simulation does (verifier/sim/committee.ts).',
    "- **Violation time.** The pool pays the violated epoch up to the M-th smallest reported time; honest witnesses report the time of the flagging challenge miss or the first bad probe, colluders report 0 (the M-th smallest is still an honest or colluding majority's own).",
    '- **Stale.** No population here reports Stale (no TCB change is simulated); the rule (paid within staleGrace of the first Stale epoch of a run, then refunded, never slashed) is implemented and tested in verifier/sim/rules.ts.',
    '',
  ];
}

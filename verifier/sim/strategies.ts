import type { Observation } from './measure.js';
import type { Report } from './rules.js';

/*
 * What a committee member reveals, by strategy:
 * - honest: what it observed (verifier/sim/measure.ts), after checking;
 * - lazy: Ok, without checking (docs/contracts.md, "Lazy witnesses");
 * - colluding: what the cartel's provider wants — Ok for a provider of the cartel (however it
 *   served), a violation (Unavailable) against any other provider, to convict it and share the slash;
 * - informed: a cartel member that uses what the chain tells it: WitnessPool.drawCommittee emits the
 *   members (CommitteeDrawn) before anyone commits, so the cartel knows whether it holds M seats. It
 *   reports a violation against a non-cartel provider only when it does (else Ok, as the honest
 *   majority will), and Ok for the cartel's provider;
 * - absent: commits nothing or does not reveal (WitnessPool: no reveal).
 */

export type Strategy = 'honest' | 'lazy' | 'colluding' | 'informed' | 'absent';

export const STRATEGIES: readonly Strategy[] = ['honest', 'lazy', 'colluding', 'informed', 'absent'];

export interface Revealed {
  readonly report: Report;
  /** Seconds from the epoch's start; meaningful for violation reports. */
  readonly violationAt: number;
}

/**
 * The member's reveal. `observe` runs the honest measurement (only honest members call it);
 * `cartelProvider` says whether the provider is the colluding witnesses' ally; `informedSeats` is the
 * number of informed cartel members in the committee, `majority` the round's M.
 */
export function reveal(
  strategy: Strategy,
  observe: () => Observation,
  cartelProvider: boolean,
  epochS: number,
  informedSeats = 0,
  majority = Number.POSITIVE_INFINITY,
): Revealed {
  switch (strategy) {
    case 'honest': {
      const o = observe();
      return { report: o.verdict, violationAt: o.violationAt };
    }
    case 'lazy':
      return { report: 'Ok', violationAt: epochS };
    case 'colluding':
      // A false conviction claims the earliest time, but the pool takes the M-th smallest report.
      return cartelProvider
        ? { report: 'Ok', violationAt: epochS }
        : { report: 'Unavailable', violationAt: 0 };
    case 'informed':
      return !cartelProvider && informedSeats >= majority
        ? { report: 'Unavailable', violationAt: 0 }
        : { report: 'Ok', violationAt: epochS };
    case 'absent':
      return { report: 'NoReveal', violationAt: epochS };
  }
}

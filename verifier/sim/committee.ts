import type { Prng } from './prng.js';

/*
 * The committee draw and the chance that an adversary holds a majority of it. WitnessPool._select
 * (contracts/src/WitnessPool.sol) fills the N seats by rejection sampling over the positions of the
 * eligible list frozen at the request, rejecting positions already chosen: with a static list that
 * is a uniform draw of N distinct witnesses, i.e. without replacement (the fallback scan only runs
 * when 4·N random draws did not fill the seats, which a static list makes vanishingly rare).
 */

/** N distinct positions of an eligible list of `eligible` witnesses (WitnessPool._select). */
export function drawCommittee(rng: Prng, eligible: number, size: number): number[] {
  return rng.sample(eligible, size);
}

/** log C(n, k). */
function logChoose(n: number, k: number): number {
  if (k < 0 || k > n) return Number.NEGATIVE_INFINITY;
  let s = 0;
  for (let i = 0; i < k; i++) s += Math.log(n - i) - Math.log(i + 1);
  return s;
}

/**
 * P(at least `majority` of `size` members are adversarial) when the committee is drawn without
 * replacement from `pool` witnesses of which `adversarial` are the adversary's (hypergeometric tail).
 */
export function captureExact(pool: number, adversarial: number, size: number, majority: number): number {
  let p = 0;
  const total = logChoose(pool, size);
  for (let k = majority; k <= size; k++) {
    const t = logChoose(adversarial, k) + logChoose(pool - adversarial, size - k) - total;
    if (t > Number.NEGATIVE_INFINITY) p += Math.exp(t);
  }
  return Math.min(1, p);
}

/** The same for an unbounded pool with adversarial fraction `f` (binomial tail). */
export function captureBinomial(f: number, size: number, majority: number): number {
  let p = 0;
  for (let k = majority; k <= size; k++) p += Math.exp(logChoose(size, k)) * f ** k * (1 - f) ** (size - k);
  return Math.min(1, p);
}

/** Monte Carlo estimate of `captureExact`: the share of `trials` drawn committees the adversary holds. */
export function captureMonteCarlo(
  rng: Prng,
  pool: number,
  adversarial: number,
  size: number,
  majority: number,
  trials: number,
): number {
  let captured = 0;
  for (let t = 0; t < trials; t++) {
    let k = 0;
    // Positions [0, adversarial) are the adversary's: the list's order is independent of the draw.
    for (const pos of drawCommittee(rng, pool, size)) if (pos < adversarial) k++;
    if (k >= majority) captured++;
  }
  return captured / trials;
}

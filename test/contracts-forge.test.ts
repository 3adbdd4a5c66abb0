/*
 * Runs the Solidity suite (contracts/test/*.t.sol: unit, fuzz, invariant, adversarial, shared typed-data
 * vectors) with forge under the default (fast) profile, so the default test run covers it. The fuzz
 * seed is fixed here so that a run is reproducible; `npm run test:contracts` and the deep profile
 * draw a fresh one each time.
 */
import { describe, expect, it } from 'vitest';
import { runForge } from '../contracts/forge.js';

const FUZZ_SEED = '0x20261206';

const supported = process.platform === 'linux' && process.arch === 'x64';

describe.skipIf(!supported)('contracts: forge test', () => {
  it('passes every Solidity unit, fuzz and invariant test', { timeout: 180_000 }, () => {
    const { status, output } = runForge(['test', '--fuzz-seed', FUZZ_SEED]);
    if (status !== 0) console.error(output);
    expect(status).toBe(0);
    expect(output).toMatch(/\d+ tests passed, 0 failed/);
  });
});

import { describe, expect, it } from 'vitest';
import type { RegistryContract } from '../../contracts/bindings/registry.js';
import type { WitnessPoolContract } from '../../contracts/bindings/witness-pool.js';
import { type LogSubmission, NO_CLAIMS } from '../../protocol/log-submission.js';
import { chainRegistrationChecker, chainVerdictChecker } from './chain-checks.js';
import { isLogError } from './errors.js';

/*
 * The claim checks against chain state as the contracts' views and events return it (the demo and
 * test/log-cli run them against anvil); here, the rules over that state.
 */

const SHA = 'ab'.repeat(32);
const ENCLAVE = `0x${'11'.repeat(20)}`;
const PROVIDER = `0x${'22'.repeat(20)}`;

const registry = {
  executorCount: async () => 2n,
  executor: async (id: bigint) => ({
    evidenceHash: id === 1n ? `0x${SHA}` : `0x${'cd'.repeat(32)}`,
    enclave: ENCLAVE.toUpperCase().replace('0X', '0x'),
    provider: PROVIDER,
  }),
} as unknown as RegistryContract;

const revealed = [{ args: [7n, `0x${'33'.repeat(20)}`, 1n, 0n, `0x${SHA}`] }];
const pool = {
  filters: { VerdictRevealed: (roundId: bigint) => roundId },
  queryFilter: async (roundId: bigint) => (roundId === 7n ? revealed : []),
} as unknown as WitnessPoolContract;

const sub = (patch: Partial<LogSubmission>): LogSubmission => ({
  kind: 'executor-registered',
  evidence: new Uint8Array(1),
  ...NO_CLAIMS,
  ...patch,
});

async function refused(p: Promise<void>): Promise<boolean> {
  try {
    await p;
    return false;
  } catch (e) {
    return isLogError(e, 'LOG_CLAIM_UNCHECKABLE');
  }
}

describe('claims checked against the chain', () => {
  it('a registration is admitted only as the Registry holds it', async () => {
    const check = chainRegistrationChecker(registry);
    await check(sub({ executorId: '1', enclave: ENCLAVE, provider: PROVIDER }), SHA);
    expect(await refused(check(sub({ executorId: '2' }), SHA))).toBe(true); // another executor's evidence
    expect(await refused(check(sub({ executorId: '3' }), SHA))).toBe(true); // not registered
    expect(await refused(check(sub({ executorId: '0' }), SHA))).toBe(true);
    expect(await refused(check(sub({}), SHA))).toBe(true); // no executor named
    expect(await refused(check(sub({ executorId: '1', enclave: `0x${'99'.repeat(20)}` }), SHA))).toBe(true);
    expect(await refused(check(sub({ executorId: '1', provider: `0x${'99'.repeat(20)}` }), SHA))).toBe(true);
  });

  it('a verdict is admitted only as revealed: its round, verdict and evidence hash', async () => {
    const check = chainVerdictChecker(pool);
    const v = (patch: Partial<LogSubmission>) =>
      sub({ kind: 'verdict-revealed', roundId: '7', verdict: 'Ok', ...patch });
    await check(v({}), SHA);
    expect(await refused(check(v({ verdict: 'Fraud' }), SHA))).toBe(true);
    expect(await refused(check(v({ roundId: '8' }), SHA))).toBe(true);
    expect(await refused(check(v({}), 'ef'.repeat(32)))).toBe(true);
    expect(await refused(check(v({ roundId: null }), SHA))).toBe(true);
  });
});

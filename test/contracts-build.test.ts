/*
 * The committed ABIs and bytecode (contracts/artifacts), bindings and enums (contracts/bindings) must be
 * what contracts/build.ts produces from contracts/src today, with no generated file left over (same check
 * as `npx tsx contracts/build.ts --check`).
 */
import { describe, expect, it } from 'vitest';
import { staleOutputs } from '../contracts/build.js';

describe('contracts: build outputs', () => {
  it('artifacts and bindings are up to date with the sources', { timeout: 120_000 }, () => {
    const { stale, total } = staleOutputs();
    expect(total).toBe(14); // 6 artifacts, 6 bindings, enums.ts, index.ts
    expect(stale, 'run npm run build:contracts').toEqual([]);
  });
});

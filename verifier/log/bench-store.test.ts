import { describe, expect, it } from 'vitest';
import { generateSimulatedRoot } from '../../attestation/simulated.js';
import {
  benchAudit,
  benchHttpSubmit,
  benchStoreAppend,
  sessionSubmission,
  simulatedBundle,
} from './bench-store.js';

describe('log service benchmarks', () => {
  it('append through the store and the server, and audit, on small logs', async () => {
    const store = await benchStoreAppend({ entries: 300 });
    expect(store.perSecond).toBeGreaterThan(0);
    expect(store.meanEntryBytes).toBeGreaterThan(500);
    const http = await benchHttpSubmit({ submissions: 40, clients: 8, batchDelayMs: 5 });
    expect(http.perSecond).toBeGreaterThan(0);
    const root = generateSimulatedRoot();
    const bundles = [0, 1, 2, 3].map((n) => simulatedBundle(root, n));
    const audit = await benchAudit({
      entries: 300,
      submission: (i) => sessionSubmission(i, bundles[i % 4]!),
      now: new Date(),
      simulatedRoots: [root.keyHash],
    });
    expect(audit).toMatchObject({ entries: 300, distinctEvidence: 4, evidenceVerified: 300 });
  });
});

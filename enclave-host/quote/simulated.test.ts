import { describe, expect, it } from 'vitest';
import {
  generateSimulatedRoot,
  parseSimulatedEvidence,
  verifySimulatedEvidence,
} from '../../attestation/simulated.js';
import { isEnclaveHostError } from '../errors.js';
import { SimulatedQuoteProvider } from './simulated.js';

describe('SimulatedQuoteProvider', () => {
  const root = generateSimulatedRoot();
  const reportData = Uint8Array.from({ length: 64 }, (_, i) => 255 - i);

  it('produces evidence that the attestation verifier accepts, binding our REPORTDATA', async () => {
    const mrTd = new Uint8Array(48).fill(7);
    const p = new SimulatedQuoteProvider(root, { measurements: { mrTd } });
    expect(p.tee).toBe('simulated');
    const { evidence, auxblob } = await p.getEvidence(reportData);
    expect(auxblob).toBeUndefined();
    const verified = verifySimulatedEvidence(parseSimulatedEvidence(evidence));
    expect(verified.reportData).toEqual(reportData);
    expect(verified.rootKeyHash).toEqual(root.keyHash);
    expect(verified.debug).toBe(false);
    expect(verified.measurements.mrTd).toEqual(mrTd);
  });

  it('marks debug evidence when asked', async () => {
    const { evidence } = await new SimulatedQuoteProvider(root, { debug: true }).getEvidence(reportData);
    expect(verifySimulatedEvidence(parseSimulatedEvidence(evidence)).debug).toBe(true);
  });

  it('REPORTDATA must be 64 bytes', async () => {
    const err = await new SimulatedQuoteProvider(root)
      .getEvidence(new Uint8Array(63))
      .catch((e: unknown) => e);
    expect(isEnclaveHostError(err, 'INVALID_ARGUMENT')).toBe(true);
  });
});

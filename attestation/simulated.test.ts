import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAttestationError } from './errors.js';
import {
  generateSimulatedRoot,
  parseSimulatedEvidence,
  produceSimulatedEvidence,
  SIMULATED_EVIDENCE_LENGTH,
  verifySimulatedEvidence,
} from './simulated.js';

const root = generateSimulatedRoot();
const reportData = new Uint8Array(64).fill(7);
const mrTd = new Uint8Array(48).fill(9);
const good = produceSimulatedEvidence(root, { reportData, measurements: { mrTd } });

describe('simulated evidence', () => {
  it('round-trips: parse and verify give back what was signed', () => {
    expect(good.length).toBe(SIMULATED_EVIDENCE_LENGTH);
    const v = verifySimulatedEvidence(parseSimulatedEvidence(good));
    expect(v.tee).toBe('simulated');
    expect(v.reportData).toEqual(reportData);
    expect(v.measurements.mrTd).toEqual(mrTd);
    expect(v.measurements.rtmr0).toEqual(new Uint8Array(48));
    expect(v.rootKeyHash).toEqual(root.keyHash);
    expect(v.debug).toBe(false);
  });

  it('carries the debug flag', () => {
    const d = produceSimulatedEvidence(root, { reportData, debug: true });
    expect(verifySimulatedEvidence(parseSimulatedEvidence(d)).debug).toBe(true);
  });

  it('a flipped bit anywhere in the signed part or the signature is rejected', () => {
    for (let i = 0; i < good.length; i++) {
      const m = good.slice();
      m[i]! ^= 0x01;
      let code: string | undefined;
      try {
        verifySimulatedEvidence(parseSimulatedEvidence(m));
      } catch (e) {
        if (!isAttestationError(e)) throw e;
        code = e.code;
      }
      expect(code, `byte ${i}`).toMatch(/^SIM_(SIGNATURE_INVALID|MALFORMED)$/);
    }
  });

  it('truncation and trailing bytes are malformed', () => {
    for (const n of [0, 7, 8, 16, 300, good.length - 1]) {
      expect(() => parseSimulatedEvidence(good.subarray(0, n))).toThrow(/input ends inside|bad magic/);
    }
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    expect(() => parseSimulatedEvidence(longer)).toThrow(/trailing/);
  });

  it('arbitrary bytes never crash the parser and end in a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (b) => {
        const withMagic =
          b.length > 8 ? Uint8Array.from([...new TextEncoder().encode('DEFAASIM'), ...b.subarray(8)]) : b;
        for (const x of [b, withMagic]) {
          try {
            verifySimulatedEvidence(parseSimulatedEvidence(x));
          } catch (e) {
            expect(isAttestationError(e)).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

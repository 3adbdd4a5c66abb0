import { describe, expect, it } from 'vitest';
import { bindReportData } from './binding.js';
import { decodeEvidenceBundle, encodeEvidenceBundle, MAX_BUNDLE_BYTES } from './bundle.js';
import { detectEvidenceFormat } from './detect.js';
import { generateSimulatedRoot, produceSimulatedEvidence } from './simulated.js';

describe('evidence bundle encoding', () => {
  it('round-trips Intel and SNP collateral', () => {
    const bundle = {
      evidence: new Uint8Array([4, 0, 2, 0, 0x81]),
      intel: {
        tcbInfo: { text: '{"id":"TDX"}', signature: new Uint8Array(64).fill(1), issuerChain: 'PEM' },
        qeIdentity: { text: '{"id":"TD_QE"}', signature: new Uint8Array(64).fill(2), issuerChain: 'PEM2' },
        pckCrl: new Uint8Array([1, 2, 3]),
        pckCrlIssuerChain: 'PEM3',
        rootCaCrl: new Uint8Array([4, 5]),
      },
      snp: { vcek: new Uint8Array([9]), chain: 'ASK+ARK' },
    };
    expect(decodeEvidenceBundle(encodeEvidenceBundle(bundle))).toEqual(bundle);
  });

  it.each([
    ['garbage', new TextEncoder().encode('not json')],
    ['wrong version', new TextEncoder().encode('{"v":2,"evidence":""}')],
    ['bad base64', new TextEncoder().encode('{"v":1,"evidence":"!!"}')],
    ['intel without tcbInfo', new TextEncoder().encode('{"v":1,"evidence":"","intel":{}}')],
    ['oversized', new Uint8Array(MAX_BUNDLE_BYTES + 1)],
  ])('refuses %s with COLLATERAL_MALFORMED', (_n, bytes) => {
    expect(() => decodeEvidenceBundle(bytes)).toThrow(
      expect.objectContaining({ code: 'COLLATERAL_MALFORMED' }),
    );
  });
});

describe('evidence format detection', () => {
  it('tells the formats apart by their first bytes', () => {
    const sim = produceSimulatedEvidence(generateSimulatedRoot(), { reportData: new Uint8Array(64) });
    expect(detectEvidenceFormat(sim)).toBe('simulated');
    expect(detectEvidenceFormat(new Uint8Array([4, 0, 2, 0, 0x81, 0, 0, 0]))).toBe('intel-quote');
    expect(detectEvidenceFormat(new Uint8Array([3, 0, 2, 0, 0, 0, 0, 0]))).toBe('intel-quote');
    expect(detectEvidenceFormat(new Uint8Array([2, 0, 0, 0]))).toBe('sev-snp-report');
    expect(detectEvidenceFormat(new Uint8Array([5, 0, 0, 0]))).toBe('sev-snp-report');
    expect(detectEvidenceFormat(new Uint8Array([9, 0, 0, 0]))).toBe('unknown');
    expect(detectEvidenceFormat(new Uint8Array([4]))).toBe('unknown');
  });
});

describe('REPORTDATA binding', () => {
  const addr = '0x52908400098527886E0F7030069857D2E4169EE7';
  const x = new Uint8Array(32).fill(3);
  it('is 64 bytes, and changes with every input', () => {
    const a = bindReportData({ identityAddress: addr, x25519PublicKey: x });
    expect(a.length).toBe(64);
    expect(
      bindReportData({ identityAddress: addr, x25519PublicKey: new Uint8Array(32).fill(4) }),
    ).not.toEqual(a);
    expect(bindReportData({ identityAddress: addr.replace('E7', 'E8'), x25519PublicKey: x })).not.toEqual(a);
    expect(
      bindReportData({ identityAddress: addr, x25519PublicKey: x, transcriptHash: new Uint8Array(32) }),
    ).not.toEqual(a);
  });
  it('refuses wrong lengths', () => {
    expect(() => bindReportData({ identityAddress: '0x1234', x25519PublicKey: x })).toThrow(/20 bytes/);
    expect(() => bindReportData({ identityAddress: addr, x25519PublicKey: new Uint8Array(31) })).toThrow(
      /32 bytes/,
    );
  });
});

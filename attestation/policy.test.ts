import { describe, expect, it } from 'vitest';
import { toHex } from './bytes.js';
import { isAttestationError } from './errors.js';
import type { VerifiedEvidence, VerifiedSnp, VerifiedTdx } from './evidence.js';
import { PLATFORM_POLICY, type Policy, parsePolicy, validateEvidence } from './policy.js';

const b = (n: number, fill: number) => new Uint8Array(n).fill(fill);

const tdx: VerifiedTdx = {
  tee: 'tdx',
  evidenceHash: b(32, 1),
  measurements: { mrTd: b(48, 2), rtmr0: b(48, 3) },
  reportData: b(64, 4),
  debug: false,
  quoteVersion: 4,
  tcbStatus: 'UpToDate',
  advisoryIds: [],
  ppid: b(16, 5),
  fmspc: b(6, 6),
  tdAttributes: b(8, 0),
  collateralIssuedAt: new Date('2025-06-19T10:00:00Z'),
};

const snp: VerifiedSnp = {
  tee: 'sev-snp',
  evidenceHash: b(32, 1),
  measurements: { measurement: b(48, 7) },
  reportData: b(64, 4),
  debug: false,
  reportVersion: 3,
  product: 'Milan',
  signingKey: 'vcek',
  vmpl: 1,
  guestPolicy: 0x30000n,
  guestSvn: 2,
  reportedTcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 },
  committedTcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 },
  currentTcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 },
  chipId: b(64, 8),
};

function codeOf(
  v: VerifiedEvidence,
  p: Policy,
  opts: Parameters<typeof validateEvidence>[2] = {},
): string | undefined {
  try {
    validateEvidence(v, p, opts);
    return undefined;
  } catch (e) {
    if (!isAttestationError(e)) throw e;
    expect(e.kind === 'policy' || e.code === 'INVALID_ARGUMENT').toBe(true);
    return e.code;
  }
}

const pinned: Policy = { allowedTees: ['tdx'], measurements: { tdx: { mrTd: toHex(b(48, 2)) } } };

describe('validateEvidence', () => {
  it('accepts evidence that matches every rule', () => {
    expect(codeOf(tdx, pinned)).toBeUndefined();
    expect(
      codeOf(tdx, { ...pinned, measurements: { tdx: { mrTd: ['00', toHex(b(48, 2))] } } }),
    ).toBeUndefined();
  });

  it('refuses by default: no measurements, unlisted TEE, debug, non-UpToDate, advisories', () => {
    expect(codeOf(tdx, { allowedTees: ['tdx'] })).toBe('POLICY_NO_MEASUREMENTS');
    expect(codeOf(tdx, { ...pinned, allowedTees: ['sev-snp'] })).toBe('POLICY_TEE_NOT_ALLOWED');
    expect(codeOf({ ...tdx, debug: true }, pinned)).toBe('POLICY_DEBUG');
    expect(codeOf({ ...tdx, debug: true }, { ...pinned, dangerouslyAllowDebug: true })).toBeUndefined();
    expect(codeOf({ ...tdx, tcbStatus: 'OutOfDate' }, pinned)).toBe('POLICY_TCB_STATUS');
    const outOfDate = { ...tdx, tcbStatus: 'OutOfDate' as const, advisoryIds: ['INTEL-SA-00960'] };
    expect(codeOf(outOfDate, { ...pinned, acceptedTcbStatuses: ['OutOfDate'] })).toBe('POLICY_ADVISORY');
    expect(
      codeOf(outOfDate, {
        ...pinned,
        acceptedTcbStatuses: ['OutOfDate'],
        allowedAdvisoryIds: ['INTEL-SA-00960'],
      }),
    ).toBeUndefined();
  });

  it('the platform policy reports measurements without pinning them, and never accepts simulated evidence', () => {
    expect(codeOf(tdx, PLATFORM_POLICY)).toBeUndefined();
    const sim: VerifiedEvidence = {
      tee: 'simulated',
      evidenceHash: b(32, 0),
      measurements: {},
      reportData: b(64, 0),
      debug: false,
      rootKeyHash: b(32, 1),
    };
    expect(codeOf(sim, PLATFORM_POLICY)).toBe('POLICY_TEE_NOT_ALLOWED');
  });

  it('measurement mismatches and absent registers are refused', () => {
    expect(codeOf(tdx, { ...pinned, measurements: { tdx: { mrTd: toHex(b(48, 9)) } } })).toBe(
      'POLICY_MEASUREMENT_MISMATCH',
    );
    expect(codeOf(tdx, { ...pinned, measurements: { tdx: { mrServiceTd: toHex(b(48, 0)) } } })).toBe(
      'POLICY_MEASUREMENT_MISMATCH',
    );
  });

  it('checks REPORTDATA exactly or through a binding predicate', () => {
    expect(codeOf(tdx, { ...pinned, reportData: toHex(b(64, 4)) })).toBeUndefined();
    expect(codeOf(tdx, { ...pinned, reportData: toHex(b(64, 5)) })).toBe('POLICY_REPORT_DATA_MISMATCH');
    expect(codeOf(tdx, pinned, { reportData: (rd) => rd[0] === 4 })).toBeUndefined();
    expect(codeOf(tdx, pinned, { reportData: () => false })).toBe('POLICY_REPORT_DATA_MISMATCH');
  });

  it('pins hardware identities and collateral age', () => {
    expect(codeOf(tdx, { ...pinned, hardwareIds: { ppid: [toHex(b(16, 5))] } })).toBeUndefined();
    expect(codeOf(tdx, { ...pinned, hardwareIds: { ppid: [toHex(b(16, 6))] } })).toBe(
      'POLICY_HARDWARE_ID_MISMATCH',
    );
    const now = new Date('2025-06-20T10:00:00Z');
    expect(codeOf(tdx, { ...pinned, maxCollateralAgeSeconds: 86_400 }, { now })).toBeUndefined();
    expect(codeOf(tdx, { ...pinned, maxCollateralAgeSeconds: 3_600 }, { now })).toBe(
      'POLICY_COLLATERAL_TOO_OLD',
    );
  });

  it('SEV-SNP: VMPL, minimum TCB, guest SVN and chip id', () => {
    const p: Policy = {
      allowedTees: ['sev-snp'],
      measurements: { 'sev-snp': { measurement: toHex(b(48, 7)) } },
    };
    expect(codeOf(snp, p)).toBeUndefined();
    expect(codeOf(snp, { ...p, sevSnp: { vmpl: 0 } })).toBe('POLICY_VMPL');
    expect(codeOf(snp, { ...p, sevSnp: { minTcb: { snp: 24, microcode: 219 } } })).toBeUndefined();
    expect(codeOf(snp, { ...p, sevSnp: { minTcb: { microcode: 220 } } })).toBe('POLICY_MIN_TCB');
    expect(codeOf(snp, { ...p, sevSnp: { minTcb: { fmc: 1 } } })).toBe('POLICY_MIN_TCB');
    expect(codeOf(snp, { ...p, sevSnp: { minGuestSvn: 3 } })).toBe('POLICY_MIN_TCB');
    expect(codeOf(snp, { ...p, hardwareIds: { chipId: [toHex(b(64, 9))] } })).toBe(
      'POLICY_HARDWARE_ID_MISMATCH',
    );
  });
});

describe('parsePolicy', () => {
  it('parses a full policy', () => {
    const p = parsePolicy(
      JSON.stringify({
        allowedTees: ['tdx', 'sev-snp'],
        measurements: { tdx: { mrTd: 'ab'.repeat(48), rtmr0: ['00'.repeat(48), '11'.repeat(48)] } },
        acceptedTcbStatuses: ['UpToDate', 'SWHardeningNeeded'],
        allowedAdvisoryIds: ['INTEL-SA-00615'],
        hardwareIds: { chipId: ['00'.repeat(64)] },
        maxCollateralAgeSeconds: 2_592_000,
        sevSnp: { minTcb: { bootloader: 3, microcode: 115 }, vmpl: 0 },
      }),
    );
    expect(p.allowedTees).toEqual(['tdx', 'sev-snp']);
  });

  it.each([
    ['not JSON', '{'],
    ['not an object', '[]'],
    ['no TEEs', '{"allowedTees":[]}'],
    ['unknown TEE', '{"allowedTees":["sev"]}'],
    [
      'unknown key (a typo must not loosen the policy)',
      '{"allowedTees":["tdx"],"dangerouslyAllowDebugg":true}',
    ],
    ['unknown register', '{"allowedTees":["tdx"],"measurements":{"tdx":{"mrtd":"00"}}}'],
    ['bad hex', '{"allowedTees":["tdx"],"measurements":{"tdx":{"mrTd":"zz"}}}'],
    ['Revoked accepted', '{"allowedTees":["tdx"],"acceptedTcbStatuses":["Revoked"]}'],
    ['short reportData', '{"allowedTees":["tdx"],"reportData":"00"}'],
    ['negative VMPL', '{"allowedTees":["sev-snp"],"sevSnp":{"vmpl":-1}}'],
    ['boolean as string', '{"allowedTees":["tdx"],"dangerouslyAllowDebug":"false"}'],
  ])('refuses %s', (_name, text) => {
    expect(() => parsePolicy(text)).toThrow(expect.objectContaining({ code: 'POLICY_MALFORMED' }));
  });
});

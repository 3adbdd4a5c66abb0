import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Policy } from '../attestation/policy.js';
import { ConfigfsTsmQuoteProvider } from '../enclave-host/quote/configfs-tsm.js';
import { FakeConfigfsTsm } from '../enclave-host/quote/fake-configfs-tsm.js';
import { connect } from '../sdk/connect.js';
import { type Harness, startExecutor } from './e2e-harness.js';
import { codeOfAsync as codeOf } from './error-code.js';
import { readVector, VECTORS } from './vectors.js';
import { SNP_DIR, startVendorServices, type VendorServices } from './vendor-services.js';

/*
 * connect({ fetchCollateral }) against executors that present bare evidence (TDX and SEV-SNP over a
 * fake configfs-tsm tree serving recorded real evidence): the SDK fetches what is missing from a
 * local stand-in for Intel PCS and AMD KDS, verifies the evidence with it, and then stops at the key
 * binding (REPORT_DATA_MISMATCH), which recorded evidence cannot satisfy. Without fetching, the
 * same connect stops earlier with COLLATERAL_MISSING.
 */

const ANY_MEASUREMENT = (tee: 'tdx' | 'sev-snp'): Policy => ({
  allowedTees: [tee],
  dangerouslyAllowAnyMeasurement: true,
});

describe.skipIf(!VECTORS)('SDK fetches missing collateral', () => {
  let services: VendorServices;
  const fakes: FakeConfigfsTsm[] = [];
  let tdx: Harness;
  let snp: Harness;

  beforeAll(async () => {
    services = await startVendorServices();
    const serve = async (provider: string, tee: 'tdx' | 'sev-snp', evidence: Uint8Array) => {
      const f = await FakeConfigfsTsm.create({ provider, makeOutblob: () => evidence });
      fakes.push(f);
      return startExecutor({ quotes: new ConfigfsTsmQuoteProvider({ tee, root: f.root, fs: f.fs }) });
    };
    tdx = await serve('tdx_guest', 'tdx', readVector('tdx/quotes/v4-phala-b0c06f-uptodate.bin'));
    snp = await serve('sev_guest', 'sev-snp', readVector(`${SNP_DIR}/report.bin`));
  });

  afterAll(async () => {
    await tdx?.stop();
    await snp?.stop();
    for (const f of fakes) await rm(f.root, { recursive: true, force: true });
    await services?.close();
  });

  const fetching = () => ({
    pcsUrl: services.base,
    rootCrlUrl: `${services.base}/IntelSGXRootCA.der`,
    kdsUrl: services.base,
    cacheDir: mkdtempSync(join(tmpdir(), 'defaas-sdk-cache-')),
  });

  it('TDX: Intel collateral from PCS, then the binding check', async () => {
    const now = new Date('2025-07-01T00:00:00Z');
    const policy = ANY_MEASUREMENT('tdx');
    expect(await codeOf(connect(tdx.endpoint, { policy, now }))).toBe('COLLATERAL_MISSING');
    services.mode = 'ok';
    expect(await codeOf(connect(tdx.endpoint, { policy, now, fetchCollateral: fetching() }))).toBe(
      'REPORT_DATA_MISMATCH',
    );
    expect(services.hits).toContain('/tdx/certification/v4/tcb');
  });

  it('SEV-SNP: VCEK and AMD chain from KDS, then the binding check', async () => {
    const now = new Date('2025-12-07T00:00:00Z');
    const policy = ANY_MEASUREMENT('sev-snp');
    expect(await codeOf(connect(snp.endpoint, { policy, now }))).toBe('COLLATERAL_MISSING');
    services.mode = 'ok';
    expect(await codeOf(connect(snp.endpoint, { policy, now, fetchCollateral: fetching() }))).toBe(
      'REPORT_DATA_MISMATCH',
    );
  });

  it('a rate-limited or empty vendor service is a transient error, not a verdict', async () => {
    const now = new Date('2025-07-01T00:00:00Z');
    services.mode = '429';
    expect(
      await codeOf(
        connect(tdx.endpoint, { policy: ANY_MEASUREMENT('tdx'), now, fetchCollateral: fetching() }),
      ),
    ).toBe('COLLATERAL_RATE_LIMITED');
    services.mode = '404';
    expect(
      await codeOf(
        connect(tdx.endpoint, { policy: ANY_MEASUREMENT('tdx'), now, fetchCollateral: fetching() }),
      ),
    ).toBe('COLLATERAL_UNAVAILABLE');
    services.mode = 'ok';
  });
});

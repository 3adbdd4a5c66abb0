import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectFailure, onlyJson, runCli } from './cli-run.js';
import { VECTORS, vectorPath } from './vectors.js';
import { SNP_DIR, startVendorServices, type VendorServices } from './vendor-services.js';

/*
 * `attest verify --fetch` with the real fetch()-based getter against a local server on 127.0.0.1
 * that answers like Intel PCS v4 and AMD KDS, from recorded vector files. Nothing leaves the machine.
 */

let services: VendorServices;
let base = '';
const SNP = SNP_DIR;

beforeAll(async () => {
  services = await startVendorServices();
  base = services.base;
});

afterAll(() => services.close());

const run = runCli;

const intel = () => [
  'attest',
  'verify',
  vectorPath('tdx/quotes/v4-phala-b0c06f-uptodate.bin'),
  '--fetch',
  '--pcs-url',
  base,
  '--root-crl-url',
  `${base}/IntelSGXRootCA.der`,
  '--cache-dir',
  mkdtempSync(join(tmpdir(), 'defaas-cache-')),
  '--at',
  '2025-07-01T00:00:00Z',
  '--json',
];

const snp = () => [
  'attest',
  'verify',
  vectorPath(`${SNP}/report.bin`),
  '--fetch',
  '--kds-url',
  base,
  '--cache-dir',
  mkdtempSync(join(tmpdir(), 'defaas-cache-')),
  '--at',
  '2025-12-07T00:00:00Z',
  '--json',
];

describe.skipIf(!VECTORS)(
  'attest verify --fetch over HTTP (local server standing in for PCS and KDS)',
  () => {
    it('fetches Intel collateral for the quote and accepts it', async () => {
      services.mode = 'ok';
      const r = await run(...intel());
      expect(r.code, r.out + r.err).toBe(0);
      expect(onlyJson(r.out).tcbStatus).toBe('UpToDate');
      expect(services.hits).toContain('/tdx/certification/v4/tcb');
    });

    it('fetches the VCEK and the AMD chain for an SNP report and accepts it', async () => {
      services.mode = 'ok';
      const r = await run(...snp());
      expect(r.code, r.out + r.err).toBe(0);
      expect(onlyJson(r.out).product).toBe('Milan');
    });

    it('rate limiting is transient: exit 3 with COLLATERAL_RATE_LIMITED', async () => {
      services.mode = '429';
      for (const args of [intel(), snp()]) {
        const r = await run(...args);
        expect(r.code, r.out).toBe(3);
        expectFailure(r.out, 'COLLATERAL_RATE_LIMITED', 'transient');
      }
    });

    it('missing collateral is transient: exit 3 with COLLATERAL_UNAVAILABLE', async () => {
      services.mode = '404';
      const r = await run(...intel());
      expect(r.code, r.out).toBe(3);
      expectFailure(r.out, 'COLLATERAL_UNAVAILABLE', 'transient');
    });

    it('an unreachable service is transient too', async () => {
      const r = await run(...intel().map((a) => (a === base ? 'http://127.0.0.1:9' : a)));
      expect(r.code, r.out).toBe(3);
      expectFailure(r.out, 'COLLATERAL_UNAVAILABLE', 'transient');
    });
  },
);

import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../cli/main.js';
import { readVector, readVectorText, VECTORS, vectorPath } from './vectors.js';

/*
 * `attest verify --fetch` with the real fetch()-based getter against a local server on 127.0.0.1
 * that answers like Intel PCS v4 and AMD KDS, from recorded vector files. Nothing leaves the machine.
 */

let server: Server;
let base = '';
let mode: 'ok' | '429' | '404' = 'ok';
const hits: string[] = [];

const INTEL_DIR = 'tdx/collateral/phala-tdx-b0c06f-2025-06';
const SNP = 'sev-snp/milan-v3-azure';

beforeAll(async () => {
  server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    hits.push(u.pathname);
    if (mode === '429') {
      res.writeHead(429, { 'Retry-After': '60' }).end();
      return;
    }
    const enc = (f: string) => encodeURIComponent(readVectorText(`${INTEL_DIR}/${f}`));
    const send = (body: Uint8Array, headers: Record<string, string> = {}) =>
      res.writeHead(200, headers).end(Buffer.from(body));
    if (mode === 'ok' && u.pathname === '/tdx/certification/v4/tcb') {
      return send(readVector(`${INTEL_DIR}/tcb_info.json`), {
        'TCB-Info-Issuer-Chain': enc('tcb_info_issuer_chain.pem'),
      });
    }
    if (mode === 'ok' && u.pathname === '/tdx/certification/v4/qe/identity') {
      return send(readVector(`${INTEL_DIR}/qe_identity.json`), {
        'SGX-Enclave-Identity-Issuer-Chain': enc('qe_identity_issuer_chain.pem'),
      });
    }
    if (mode === 'ok' && u.pathname === '/sgx/certification/v4/pckcrl') {
      return send(readVector(`${INTEL_DIR}/pck_crl.der`), {
        'SGX-PCK-CRL-Issuer-Chain': enc('pck_crl_issuer_chain.pem'),
      });
    }
    if (mode === 'ok' && u.pathname === '/IntelSGXRootCA.der')
      return send(readVector(`${INTEL_DIR}/root_ca_crl.der`));
    if (mode === 'ok' && u.pathname.startsWith('/vcek/v1/Milan/cert_chain')) {
      return send(readVector('sev-snp/roots/milan/cert_chain_vcek.pem'));
    }
    if (mode === 'ok' && u.pathname.startsWith('/vcek/v1/Milan/')) return send(readVector(`${SNP}/vcek.der`));
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function run(...args: string[]) {
  let out = '';
  const capture = (s: string | Uint8Array) => {
    out += String(s);
    return true;
  };
  const o = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const e = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    return { code: await main(['node', 'defaas', ...args]), out };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}

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
      mode = 'ok';
      const r = await run(...intel());
      expect(r.code, r.out).toBe(0);
      expect(JSON.parse(r.out).tcbStatus).toBe('UpToDate');
      expect(hits).toContain('/tdx/certification/v4/tcb');
    });

    it('fetches the VCEK and the AMD chain for an SNP report and accepts it', async () => {
      mode = 'ok';
      const r = await run(...snp());
      expect(r.code, r.out).toBe(0);
      expect(JSON.parse(r.out).product).toBe('Milan');
    });

    it('rate limiting is transient: exit 3 with COLLATERAL_RATE_LIMITED', async () => {
      mode = '429';
      for (const args of [intel(), snp()]) {
        const r = await run(...args);
        expect(r.code, r.out).toBe(3);
        expect(JSON.parse(r.out).code).toBe('COLLATERAL_RATE_LIMITED');
      }
    });

    it('missing collateral is transient: exit 3 with COLLATERAL_UNAVAILABLE', async () => {
      mode = '404';
      const r = await run(...intel());
      expect(r.code, r.out).toBe(3);
      expect(JSON.parse(r.out).code).toBe('COLLATERAL_UNAVAILABLE');
    });

    it('an unreachable service is transient too', async () => {
      const r = await run(...intel().map((a) => (a === base ? 'http://127.0.0.1:9' : a)));
      expect(r.code, r.out).toBe(3);
      expect(JSON.parse(r.out).code).toBe('COLLATERAL_UNAVAILABLE');
    });
  },
);

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readVector, readVectorText, VECTORS, vectorPath } from '../../test/vectors.js';
import { type AttestationErrorCode, isAttestationError } from '../errors.js';
import { collateralDigest, loadIntelCollateral, verifyCollateral } from './collateral.js';
import { type HttpGetter, type HttpResponse, PcsClient } from './pcs.js';

async function errorOf(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    if (isAttestationError(e)) return e;
    throw e;
  }
  throw new Error('expected an AttestationError, nothing was thrown');
}

async function codeOf(p: Promise<unknown>): Promise<AttestationErrorCode> {
  return (await errorOf(p)).code;
}

/** Serves one recorded collateral folder the way Intel PCS v4 does. Never touches the network. */
class FakePcs implements HttpGetter {
  readonly requested: string[] = [];
  readonly override = new Map<string, HttpResponse | Error>();

  constructor(private readonly dir: string) {}

  async get(url: string): Promise<HttpResponse> {
    this.requested.push(url);
    const o = [...this.override].find(([k]) => url.includes(k))?.[1];
    if (o instanceof Error) throw o;
    if (o) return o;
    const enc = (f: string) => encodeURIComponent(readVectorText(`${this.dir}/${f}`));
    const u = new URL(url);
    if (u.host === 'certificates.trustedservices.intel.com' && u.pathname === '/IntelSGXRootCA.der') {
      return { status: 200, headers: {}, body: readVector(`${this.dir}/root_ca_crl.der`) };
    }
    if (u.host !== 'api.trustedservices.intel.com')
      return { status: 404, headers: {}, body: new Uint8Array() };
    if (/^\/(sgx|tdx)\/certification\/v4\/tcb$/.test(u.pathname) && u.searchParams.get('fmspc')) {
      return {
        status: 200,
        headers: {
          'TCB-Info-Issuer-Chain': enc('tcb_info_issuer_chain.pem'),
          'Content-Type': 'application/json',
        },
        body: readVector(`${this.dir}/tcb_info.json`),
      };
    }
    if (/^\/(sgx|tdx)\/certification\/v4\/qe\/identity$/.test(u.pathname)) {
      return {
        status: 200,
        headers: { 'sgx-enclave-identity-issuer-chain': enc('qe_identity_issuer_chain.pem') },
        body: readVector(`${this.dir}/qe_identity.json`),
      };
    }
    if (u.pathname === '/sgx/certification/v4/pckcrl' && u.searchParams.get('encoding') === 'der') {
      return {
        status: 200,
        headers: { 'SGX-PCK-CRL-Issuer-Chain': enc('pck_crl_issuer_chain.pem') },
        body: readVector(`${this.dir}/pck_crl.der`),
      };
    }
    return { status: 404, headers: {}, body: new Uint8Array() };
  }
}

const DIR = 'tdx/collateral/automata-tdx-00806f050000-2025-06';
const NOW = new Date('2025-06-05T03:45:00Z');
const REQ = { tee: 'tdx', fmspc: '00806f050000', pckCa: 'platform' } as const;

describe.skipIf(!VECTORS)('PcsClient with a recorded-response getter', () => {
  const tmpDirs: string[] = [];
  afterAll(async () => {
    for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
  });

  it('requests the v4 endpoints and assembles verifiable collateral', async () => {
    const fake = new FakePcs(DIR);
    const c = await new PcsClient({ getter: fake }).fetchCollateral(REQ);
    expect(fake.requested.sort()).toEqual(
      [
        'https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=00806F050000',
        'https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity',
        'https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
        'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der',
      ].sort(),
    );
    expect(collateralDigest(c)).toBe(collateralDigest(await loadIntelCollateral(vectorPath(DIR))));
    expect(verifyCollateral(c, { now: NOW }).tcbInfo.id).toBe('TDX');
  });

  it('builds SGX and processor-CA URLs and checks its arguments', async () => {
    const client = new PcsClient({ getter: new FakePcs(DIR), baseUrl: 'https://pccs.example/' });
    expect(
      client.urls({ tee: 'sgx', fmspc: new Uint8Array([0, 0x60, 0x6a, 0, 0, 0]), pckCa: 'processor' }),
    ).toEqual({
      tcbInfo: 'https://pccs.example/sgx/certification/v4/tcb?fmspc=00606A000000',
      qeIdentity: 'https://pccs.example/sgx/certification/v4/qe/identity',
      pckCrl: 'https://pccs.example/sgx/certification/v4/pckcrl?ca=processor&encoding=der',
      rootCaCrl: 'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der',
    });
    expect(client.urls({ ...REQ, update: 'early' })).toMatchObject({
      tcbInfo: 'https://pccs.example/tdx/certification/v4/tcb?fmspc=00806F050000&update=early',
      qeIdentity: 'https://pccs.example/tdx/certification/v4/qe/identity?update=early',
    });
    expect(await codeOf(client.fetchCollateral({ ...REQ, fmspc: '00806f05' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.fetchCollateral({ ...REQ, pckCa: 'other' as 'platform' }))).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('429 → COLLATERAL_RATE_LIMITED with Retry-After', async () => {
    const fake = new FakePcs(DIR);
    fake.override.set('/tcb?', { status: 429, headers: { 'retry-after': '120' }, body: new Uint8Array() });
    const e = await errorOf(new PcsClient({ getter: fake }).fetchCollateral(REQ));
    expect(e.code).toBe('COLLATERAL_RATE_LIMITED');
    expect(e.kind).toBe('transient');
    expect(e.info).toMatchObject({ retryAfter: '120', retryAfterSeconds: 120 });
  });

  it('404 → COLLATERAL_UNAVAILABLE naming what was not found', async () => {
    const fake = new FakePcs(DIR);
    fake.override.set('fmspc=00806F05FFFF', { status: 404, headers: {}, body: new Uint8Array() });
    const e2 = await errorOf(
      new PcsClient({ getter: fake }).fetchCollateral({ ...REQ, fmspc: '00806f05ffff' }),
    );
    expect(e2.code).toBe('COLLATERAL_UNAVAILABLE');
    expect(e2.info.notFound).toBe('TCB Info for TDX FMSPC 00806F05FFFF');
  });

  it('network failure and other statuses → COLLATERAL_UNAVAILABLE (transient)', async () => {
    const fake = new FakePcs(DIR);
    fake.override.set('IntelSGXRootCA', new Error('ECONNRESET'));
    const e = await errorOf(new PcsClient({ getter: fake }).fetchCollateral(REQ));
    expect(e.code).toBe('COLLATERAL_UNAVAILABLE');
    expect(e.kind).toBe('transient');
    expect((e.cause as Error).message).toBe('ECONNRESET');
    const fake2 = new FakePcs(DIR);
    fake2.override.set('qe/identity', {
      status: 503,
      headers: { 'Error-Code': 'ServiceUnavailable', 'Error-Message': 'try later' },
      body: new Uint8Array(),
    });
    const e2 = await errorOf(new PcsClient({ getter: fake2 }).fetchCollateral(REQ));
    expect(e2.code).toBe('COLLATERAL_UNAVAILABLE');
    expect(e2.info).toMatchObject({ status: 503, errorCode: 'ServiceUnavailable' });
  });

  it('missing or broken issuer-chain headers and bodies → COLLATERAL_MALFORMED', async () => {
    const fake = new FakePcs(DIR);
    fake.override.set('qe/identity', {
      status: 200,
      headers: {},
      body: readVector(`${DIR}/qe_identity.json`),
    });
    expect(await codeOf(new PcsClient({ getter: fake }).fetchCollateral(REQ))).toBe('COLLATERAL_MALFORMED');
    const fake2 = new FakePcs(DIR);
    fake2.override.set('pckcrl', {
      status: 200,
      headers: { 'SGX-PCK-CRL-Issuer-Chain': '%E0%A4%A' },
      body: readVector(`${DIR}/pck_crl.der`),
    });
    expect(await codeOf(new PcsClient({ getter: fake2 }).fetchCollateral(REQ))).toBe('COLLATERAL_MALFORMED');
    const fake3 = new FakePcs(DIR);
    fake3.override.set('IntelSGXRootCA', {
      status: 200,
      headers: {},
      body: new TextEncoder().encode('<html>'),
    });
    expect(await codeOf(new PcsClient({ getter: fake3 }).fetchCollateral(REQ))).toBe('COLLATERAL_MALFORMED');
  });

  it('accepts the older SGX-TCB-Info-Issuer-Chain header, a Headers object and hex CRL bodies', async () => {
    const fake = new FakePcs(DIR);
    const chain = encodeURIComponent(readVectorText(`${DIR}/tcb_info_issuer_chain.pem`));
    fake.override.set('/tcb?', {
      status: 200,
      headers: new Headers({ 'SGX-TCB-Info-Issuer-Chain': chain }),
      body: readVector(`${DIR}/tcb_info.json`),
    });
    fake.override.set('IntelSGXRootCA', {
      status: 200,
      headers: {},
      body: new TextEncoder().encode(Buffer.from(readVector(`${DIR}/root_ca_crl.der`)).toString('hex')),
    });
    const c = await new PcsClient({ getter: fake }).fetchCollateral(REQ);
    verifyCollateral(c, { now: NOW });
  });

  it('caches on disk and reuses only while current at `now`', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'defaas-pcs-'));
    tmpDirs.push(dir);
    const fake = new FakePcs(DIR);
    const client = new PcsClient({ getter: fake, cacheDir: dir });
    const c1 = await client.fetchCollateral({ ...REQ, now: NOW });
    expect(fake.requested.length).toBe(4);
    const file = join(dir, 'tdx-00806F050000-platform.json');
    expect(collateralDigest(await loadIntelCollateral(file))).toBe(collateralDigest(c1));
    // Current: no request.
    const c2 = await client.fetchCollateral({ ...REQ, now: NOW });
    expect(fake.requested.length).toBe(4);
    expect(collateralDigest(c2)).toBe(collateralDigest(c1));
    // Stale at a later `now`: fetched again. Without `now`: always fetched.
    await client.fetchCollateral({ ...REQ, now: new Date('2025-08-01T00:00:00Z') });
    expect(fake.requested.length).toBe(8);
    await client.fetchCollateral(REQ);
    expect(fake.requested.length).toBe(12);
    // A corrupt cache file is ignored and replaced.
    await writeFile(file, '{"nope":1}');
    await client.fetchCollateral({ ...REQ, now: NOW });
    expect(fake.requested.length).toBe(16);
    expect(JSON.parse(await readFile(file, 'utf8')).tcb_info).toBe(c1.tcbInfo.text);
  });
});

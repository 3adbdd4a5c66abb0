import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { codeOfAsync as codeOf } from '../../test/error-code.js';
import { readVector, readVectorText, VECTORS } from '../../test/vectors.js';
import { fromHex } from '../bytes.js';
import { isAttestationError } from '../errors.js';
import {
  type HttpGetter,
  type HttpResponse,
  KdsClient,
  kdsCertChainUrl,
  kdsCrlUrl,
  kdsVcekUrl,
} from './kds.js';
import { parseSnpReport } from './report.js';
import { verifySnpReport } from './verify.js';

/** A fake KDS: serves a fixed URL → response map and records every request. Nothing touches the network. */
class FakeKds implements HttpGetter {
  readonly requests: string[] = [];
  constructor(private readonly routes: Map<string, HttpResponse | Error>) {}
  async get(url: string): Promise<HttpResponse> {
    this.requests.push(url);
    const r = this.routes.get(url);
    if (r instanceof Error) throw r;
    return r ?? { status: 404, headers: {}, body: new Uint8Array() };
  }
}

const ok = (body: Uint8Array | string): HttpResponse => ({
  status: 200,
  headers: { 'content-type': 'application/octet-stream' },
  body: typeof body === 'string' ? new Uint8Array(Buffer.from(body)) : body,
});

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'defaas-kds-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('KDS URLs (#57230 "KDS Interface")', () => {
  it('builds VCEK, cert_chain and CRL URLs', () => {
    const hw = new Uint8Array(64).fill(0xab);
    expect(kdsVcekUrl('Milan', hw, { bootloader: 3, tee: 0, snp: 8, microcode: 115 })).toBe(
      `https://kdsintf.amd.com/vcek/v1/Milan/${'ab'.repeat(64)}?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115`,
    );
    expect(
      kdsVcekUrl('Turin', fromHex('0910b4f884ff4ba9'), {
        fmc: 1,
        bootloader: 3,
        tee: 2,
        snp: 5,
        microcode: 97,
      }),
    ).toBe(
      'https://kdsintf.amd.com/vcek/v1/Turin/0910b4f884ff4ba9?fmcSPL=1&blSPL=3&teeSPL=2&snpSPL=5&ucodeSPL=97',
    );
    expect(kdsCertChainUrl('Genoa')).toBe('https://kdsintf.amd.com/vcek/v1/Genoa/cert_chain');
    expect(kdsCertChainUrl('Milan', 'vlek')).toBe('https://kdsintf.amd.com/vlek/v1/Milan/cert_chain');
    expect(kdsCrlUrl('Turin')).toBe('https://kdsintf.amd.com/vcek/v1/Turin/crl');
    expect(() => kdsVcekUrl('Turin', hw, { fmc: 1, bootloader: 3, tee: 2, snp: 5, microcode: 97 })).toThrow(
      /8 bytes/,
    );
    expect(() =>
      kdsVcekUrl('Turin', hw.subarray(0, 8), { bootloader: 3, tee: 2, snp: 5, microcode: 97 }),
    ).toThrow(/FMC/);
  });
});

describe.skipIf(!VECTORS)('KdsClient against a fake KDS serving the vector files', () => {
  const turinReport = () => parseSnpReport(readVector('sev-snp/turin-v5-anolis/report.bin'));

  it('fetches a Turin VCEK and chain for a report, which then verifies; the disk cache answers the second time', async () => {
    const report = turinReport();
    const vcekUrl =
      'https://kdsintf.amd.com/vcek/v1/Turin/0910b4f884ff4ba9?fmcSPL=1&blSPL=3&teeSPL=2&snpSPL=5&ucodeSPL=97';
    const kds = new FakeKds(
      new Map([
        [vcekUrl, ok(readVector('sev-snp/turin-v5-anolis/vcek.der'))],
        [kdsCertChainUrl('Turin'), ok(readVectorText('sev-snp/roots/turin/cert_chain_vcek.pem'))],
      ]),
    );
    const cacheDir = tempDir();
    const client = new KdsClient({ getter: kds, cacheDir });
    const vcek = await client.fetchVcekForReport(report);
    const chain = await client.fetchCertChain('Turin');
    expect(kds.requests).toEqual([vcekUrl, kdsCertChainUrl('Turin')]);
    expect(verifySnpReport(report, { now: new Date('2026-07-01T00:00:00Z'), vcek, chain }).product).toBe(
      'Turin',
    );

    const again = new KdsClient({ getter: kds, cacheDir });
    expect(await again.fetchVcekForReport(report)).toEqual(vcek);
    expect(await again.fetchCertChain('Turin')).toBe(chain);
    expect(kds.requests.length).toBe(2);
    expect(readdirSync(cacheDir).length).toBe(2);
  });

  it('a v2 report needs the product; a VLEK-signed or masked report has no KDS VCEK', async () => {
    const client = new KdsClient({ getter: new FakeKds(new Map()) });
    const v2 = parseSnpReport(readVector('sev-snp/milan-v2-virtee/report.bin'));
    expect(await codeOf(client.fetchVcekForReport(v2))).toBe('INVALID_ARGUMENT');
    const vlek = parseSnpReport(readVector('sev-snp/milan-v3-vlek-aws/report.bin'));
    expect(await codeOf(client.fetchVcekForReport(vlek))).toBe('INVALID_ARGUMENT');
    // 404 from KDS for the v2 Milan VCEK: honest COLLATERAL_UNAVAILABLE.
    expect(await codeOf(client.fetchVcekForReport(v2, 'Milan'))).toBe('COLLATERAL_UNAVAILABLE');
  });

  it('maps 429 to COLLATERAL_RATE_LIMITED (with Retry-After), 404 and 5xx and network errors to COLLATERAL_UNAVAILABLE', async () => {
    const chainUrl = kdsCertChainUrl('Milan');
    const limited = new FakeKds(
      new Map([[chainUrl, { status: 429, headers: { 'Retry-After': '30' }, body: new Uint8Array() }]]),
    );
    try {
      await new KdsClient({ getter: limited }).fetchCertChain('Milan');
      expect.unreachable();
    } catch (e) {
      expect(isAttestationError(e, 'COLLATERAL_RATE_LIMITED')).toBe(true);
      expect((e as { info: Record<string, unknown> }).info.retryAfter).toBe('30');
      expect((e as { kind: string }).kind).toBe('transient');
    }
    const missing = new FakeKds(new Map());
    expect(await codeOf(new KdsClient({ getter: missing }).fetchCertChain('Milan'))).toBe(
      'COLLATERAL_UNAVAILABLE',
    );
    const down = new FakeKds(new Map([[chainUrl, { status: 503, headers: {}, body: new Uint8Array() }]]));
    expect(await codeOf(new KdsClient({ getter: down }).fetchCertChain('Milan'))).toBe(
      'COLLATERAL_UNAVAILABLE',
    );
    const broken = new FakeKds(new Map([[chainUrl, new Error('ECONNRESET')]]));
    expect(await codeOf(new KdsClient({ getter: broken }).fetchCertChain('Milan'))).toBe(
      'COLLATERAL_UNAVAILABLE',
    );
    expect(
      await codeOf(new KdsClient({ getter: missing }).fetchCrl('Milan', new Date('2025-12-07T00:00:00Z'))),
    ).toBe('COLLATERAL_UNAVAILABLE');
  });

  it('refuses malformed bodies and does not cache them; a damaged cache file is refetched', async () => {
    const chainUrl = kdsCertChainUrl('Genoa');
    const cacheDir = tempDir();
    const bad = new FakeKds(new Map([[chainUrl, ok('<html>maintenance</html>')]]));
    expect(await codeOf(new KdsClient({ getter: bad, cacheDir }).fetchCertChain('Genoa'))).toBe(
      'CERT_MALFORMED',
    );
    expect(readdirSync(cacheDir)).toEqual([]);
    const crlBad = new FakeKds(new Map([[kdsCrlUrl('Genoa'), ok(new Uint8Array([1, 2, 3]))]]));
    expect(
      await codeOf(
        new KdsClient({ getter: crlBad, cacheDir }).fetchCrl('Genoa', new Date('2025-12-07T00:00:00Z')),
      ),
    ).toBe('CRL_MALFORMED');

    const good = new FakeKds(
      new Map([[chainUrl, ok(readVectorText('sev-snp/roots/genoa/cert_chain_vcek.pem'))]]),
    );
    await new KdsClient({ getter: good, cacheDir }).fetchCertChain('Genoa');
    const [file] = readdirSync(cacheDir);
    writeFileSync(join(cacheDir, file!), 'garbage');
    await new KdsClient({ getter: good, cacheDir }).fetchCertChain('Genoa');
    expect(good.requests.length).toBe(2);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAttestationError } from '../../attestation/errors.js';
import { boundedFetchGetter } from './collateral-getter.js';

/* The keeper's network reader against a local server that declares, streams or withholds its body. */

describe('boundedFetchGetter', () => {
  let server: Server;
  let base: string;
  const LIMIT = 1024;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/small') return res.writeHead(200, { 'X-Test': 'yes' }).end('hello');
      if (req.url === '/exact') return res.writeHead(200).end(Buffer.alloc(LIMIT, 1));
      if (req.url === '/declared') {
        // Claims a huge body and sends only a little of it: refused on the header alone.
        res.writeHead(200, { 'Content-Length': String(100 * LIMIT) });
        res.write(Buffer.alloc(10));
        return;
      }
      if (req.url === '/streamed') {
        res.writeHead(200);
        for (let i = 0; i < 8; i++) res.write(Buffer.alloc(LIMIT / 2));
        return res.end();
      }
      if (req.url === '/stall') {
        res.writeHead(200);
        res.write('x');
        return; // never ends
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );

  const get = boundedFetchGetter({ maxBytes: LIMIT, timeoutMs: 500 });

  it('returns status, headers and the body within the limit', async () => {
    const r = await get.get(`${base}/small`);
    expect(r.status).toBe(200);
    expect(Buffer.from(r.body).toString()).toBe('hello');
    expect((r.headers as Headers).get('x-test')).toBe('yes');
    expect((await get.get(`${base}/exact`)).body.length).toBe(LIMIT);
    expect((await get.get(`${base}/nothing`)).status).toBe(404);
  });

  it.each(['/declared', '/streamed'])('%s: a body over the limit is COLLATERAL_MALFORMED', async (path) => {
    const e = await get.get(`${base}${path}`).catch((x: unknown) => x);
    expect(isAttestationError(e, 'COLLATERAL_MALFORMED')).toBe(true);
  });

  it('a body that never ends is cut off by the timeout', async () => {
    const t0 = Date.now();
    await expect(get.get(`${base}/stall`)).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logUrlReader, MAX_RESOURCE_BYTES } from './reader.js';

/* A hostile log answering with more bytes than any log resource: the auditor stops reading. */

let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/declared') {
      res.writeHead(200, { 'Content-Length': String(MAX_RESOURCE_BYTES + 1) });
      res.end();
      return;
    }
    if (req.url === '/streamed') {
      // No length: chunks until the client gives up (bounded here too).
      res.writeHead(200);
      let sent = 0;
      const chunk = Buffer.alloc(1 << 20);
      const push = () => {
        while (sent < 2 * MAX_RESOURCE_BYTES) {
          sent += chunk.length;
          if (!res.write(chunk)) return res.once('drain', push);
        }
        res.end();
      };
      push();
      res.on('close', () => {
        sent = Number.POSITIVE_INFINITY;
      });
      return;
    }
    res.writeHead(200, { 'Content-Length': '3' });
    res.end('abc');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('reading a log over HTTP', () => {
  it('refuses a resource larger than any a log serves, declared or streamed', async () => {
    const read = logUrlReader(url);
    expect(new TextDecoder().decode(await read('checkpoint'))).toBe('abc');
    await expect(read('declared')).rejects.toThrow(/more than any log resource/);
    await expect(read('streamed')).rejects.toThrow(/more than any log resource/);
  });
});

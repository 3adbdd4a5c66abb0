/*
 * The customer's connection under hostile endpoints: one that accepts and never answers, one that
 * answers garbage, one that answers eth_chainId and then goes silent. Each ends in CHAIN_UNAVAILABLE
 * within the bounded attempts and request timeout, never a hang.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isCliError } from '../errors.js';
import { chainIdAt, openChain, reading } from './chain.js';

const DEPLOYMENT = {
  chainId: 31337,
  contracts: {
    token: `0x${'11'.repeat(20)}`,
    registry: `0x${'22'.repeat(20)}`,
    market: `0x${'33'.repeat(20)}`,
    settlement: `0x${'44'.repeat(20)}`,
    witnessPool: `0x${'55'.repeat(20)}`,
  },
};
const FAST = { attempts: 2, baseDelayMs: 10, requestTimeoutMs: 300 };

let server: Server | undefined;
const held: ServerResponse[] = [];

afterEach(async () => {
  for (const r of held.splice(0)) r.destroy();
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** An endpoint on 127.0.0.1 answering each JSON-RPC method with `answer` (undefined: never answers). */
async function endpoint(answer: (method: string) => string | undefined): Promise<string> {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      const method = (JSON.parse(body) as { method?: string }).method ?? '';
      const a = answer(method);
      if (a === undefined) held.push(res);
      else res.writeHead(200, { 'content-type': 'application/json' }).end(a);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('resolved');
    },
    (e: unknown) => e,
  );
}

describe('customer chain connection', () => {
  it('an endpoint that never answers: CHAIN_UNAVAILABLE after the bounded attempts', async () => {
    const url = await endpoint(() => undefined);
    const t0 = Date.now();
    const e = await failure(chainIdAt(url, FAST));
    expect(isCliError(e, 'CHAIN_UNAVAILABLE'), String(e)).toBe(true);
    expect((e as Error).message).toMatch(/after 2 attempts/);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('an endpoint that answers garbage: CHAIN_UNAVAILABLE naming the answer, at once', async () => {
    const url = await endpoint(() => '<html>not json-rpc</html>');
    const e = await failure(chainIdAt(url, FAST));
    expect(isCliError(e, 'CHAIN_UNAVAILABLE'), String(e)).toBe(true);
    expect((e as Error).message).toMatch(/no chain id/);
  });

  it('an endpoint that answers its chain id, then goes silent: reads end in CHAIN_UNAVAILABLE', async () => {
    const url = await endpoint((m) =>
      m === 'eth_chainId' ? JSON.stringify({ jsonrpc: '2.0', id: 1, result: '0x7a69' }) : undefined,
    );
    const ch = await openChain({ rpc: url, deployment: DEPLOYMENT, retry: FAST });
    try {
      const t0 = Date.now();
      const e = await failure(reading(ch.rpc, () => ch.provider.getBlockNumber(), FAST));
      expect(isCliError(e, 'CHAIN_UNAVAILABLE'), String(e)).toBe(true);
      expect(Date.now() - t0).toBeLessThan(3_000);
    } finally {
      ch.close();
    }
  });

  it('a chain id of another chain than the deployment: a usage error, no connection kept', async () => {
    const url = await endpoint(() => JSON.stringify({ jsonrpc: '2.0', id: 1, result: '0x1' }));
    const e = await failure(openChain({ rpc: url, deployment: DEPLOYMENT, retry: FAST }));
    expect(isCliError(e, 'INVALID_ARGUMENT'), String(e)).toBe(true);
    expect((e as Error).message).toMatch(/serves chain 1, the deployment file is for chain 31337/);
  });
});

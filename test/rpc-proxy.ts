import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A JSON-RPC proxy on 127.0.0.1 in front of a real endpoint (anvil), for tests that need an endpoint
 * that goes away, or one that is not anvil: it records every method asked, forwards each request, or
 * answers a method itself where `override` says so (e.g. "method not found" for anvil's own methods).
 */
export interface RpcProxy {
  readonly url: string;
  /** Every JSON-RPC method asked, in order. */
  readonly methods: readonly string[];
  /** Stops listening and drops every open connection. */
  close(): void;
}

export async function startRpcProxy(
  target: string,
  override: (method: string) => unknown = () => undefined,
): Promise<RpcProxy> {
  const methods: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const call = JSON.parse(body.toString('utf8')) as
        | { id?: unknown; method: string }
        | { method: string }[];
      const calls = [call].flat();
      methods.push(...calls.map((c) => c.method));
      const own = Array.isArray(call) ? undefined : override(call.method);
      if (own !== undefined && !Array.isArray(call)) {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', id: call.id ?? null, ...(own as object) }));
        return;
      }
      fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        .then(async (r) =>
          res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text()),
        )
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    methods,
    close() {
      server.close();
      server.closeAllConnections();
    },
  };
}

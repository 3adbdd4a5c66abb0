import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * The HTTP plumbing the log's server and the witness server share: listening (127.0.0.1 and an
 * ephemeral port by default, header and request timeouts), answering with a length, and reading a
 * bounded request body.
 */

export interface RunningHttp {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Serves `handler`; a handler that throws answers 500 (or drops a response already started). */
export async function listenHttp(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  listen: { readonly host?: string; readonly port?: number },
  log: (event: Record<string, unknown>) => void,
): Promise<RunningHttp> {
  const server = createServer((req, res) => {
    handler(req, res).catch((e) => {
      log({ event: 'error', message: e instanceof Error ? e.message : String(e) });
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
  head = false,
): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(bytes.length), ...headers });
  res.end(head ? undefined : bytes);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  send(res, status, 'application/json', `${JSON.stringify(body)}\n`, headers);
}

/** The request body, or undefined when it is longer than `max` (the rest is drained, not kept). */
export async function readBody(req: IncomingMessage, max: number): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    req.resume();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let n = 0;
  let over = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) over = true;
    if (!over) chunks.push(chunk);
  }
  return over ? undefined : Buffer.concat(chunks);
}

import type { HttpGetter, HttpResponse } from '../attestation/http.js';

/**
 * The real network for the collateral clients: fetch() with a per-request timeout. A network failure
 * throws; the clients turn it into COLLATERAL_UNAVAILABLE (transient, exit code 3).
 */
export function fetchGetter(timeoutMs = 15_000): HttpGetter {
  return {
    async get(url: string): Promise<HttpResponse> {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
      return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) };
    },
  };
}

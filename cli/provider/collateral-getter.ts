import { MAX_BUNDLE_BYTES } from '../../attestation/bundle.js';
import { fail } from '../../attestation/errors.js';
import type { HttpGetter, HttpResponse } from '../../attestation/http.js';

/**
 * The network for a provider's collateral keeper: fetch() with a per-request timeout and a cap on each
 * body. A vendor answer larger than the whole presented bundle may be (MAX_BUNDLE_BYTES) could never
 * be presented, so it is refused as COLLATERAL_MALFORMED before it is held in memory: a declared
 * Content-Length above the cap is refused unread, a streamed body is cut off at the cap.
 */
export interface BoundedGetterOptions {
  readonly maxBytes?: number;
  readonly timeoutMs?: number;
}

export function boundedFetchGetter(o: BoundedGetterOptions = {}): HttpGetter {
  const maxBytes = o.maxBytes ?? MAX_BUNDLE_BYTES;
  const timeoutMs = o.timeoutMs ?? 15_000;
  return {
    async get(url: string): Promise<HttpResponse> {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
      const tooLarge = (n: number): never =>
        fail(
          'COLLATERAL_MALFORMED',
          `${url}: answer of ${n} bytes or more exceeds the ${maxBytes}-byte limit`,
          {
            url,
            limit: maxBytes,
          },
        );
      const declared = Number(res.headers.get('content-length') ?? Number.NaN);
      if (Number.isFinite(declared) && declared > maxBytes) {
        await res.body?.cancel().catch(() => {});
        tooLarge(declared);
      }
      const chunks: Uint8Array[] = [];
      let total = 0;
      const reader = res.body?.getReader();
      // Each read returns at least one byte or ends the body; the total is capped and the request
      // timeout aborts a reader that stalls.
      while (reader) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.length;
        if (total > maxBytes) {
          await reader.cancel().catch(() => {});
          tooLarge(total);
        }
        chunks.push(value);
      }
      return { status: res.status, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)) };
    },
  };
}

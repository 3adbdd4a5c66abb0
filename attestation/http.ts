/**
 * The network as an injected dependency of the collateral clients (Intel PCS, AMD KDS): nothing
 * under attestation/ opens a socket. The CLI supplies a fetch()-based getter; tests serve recorded
 * files.
 */
export interface HttpResponse {
  readonly status: number;
  /** Header names are matched case-insensitively. A fetch() `Headers` object fits as well. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>> | HeaderLookup;
  readonly body: Uint8Array;
}

export interface HeaderLookup {
  get(name: string): string | null;
}

export interface HttpGetter {
  get(url: string): Promise<HttpResponse>;
}

/** One header's value (joined with ", " when repeated), or undefined. */
export function headerValue(res: HttpResponse, name: string): string | undefined {
  const h = res.headers;
  if (typeof (h as HeaderLookup).get === 'function') return (h as HeaderLookup).get(name) ?? undefined;
  const rec = h as Readonly<Record<string, string | readonly string[] | undefined>>;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(rec)) {
    if (k.toLowerCase() !== lower || v === undefined) continue;
    return typeof v === 'string' ? v : v.join(', ');
  }
  return undefined;
}

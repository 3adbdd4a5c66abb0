import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail, isAttestationError } from '../errors.js';
import { type HttpGetter, type HttpResponse, headerValue } from '../http.js';
import { parseCrl } from '../x509.js';
import { collateralFromPcsResponses, collateralToJson, parseCollateralJson } from './collateral.js';
import { parseQeIdentity } from './qe-identity.js';
import { parseTcbInfo } from './tcb-info.js';
import type { IntelCollateral } from './types.js';

/*
 * Fetching DCAP collateral from Intel PCS API v4 (Intel "Provisioning Certification Service for ECDSA
 * Attestation" API v4): the transport is injected (`HttpGetter`), so nothing under attestation/ opens a
 * socket by itself and tests serve recorded responses. The responses are only assembled here;
 * `verifyCollateral` decides whether they are genuine and current.
 *
 * Endpoints (v4):
 *   GET {base}/tdx/certification/v4/tcb?fmspc=…          TCB Info, header TCB-Info-Issuer-Chain
 *   GET {base}/sgx/certification/v4/tcb?fmspc=…          TCB Info, header TCB-Info-Issuer-Chain
 *   GET {base}/{tdx|sgx}/certification/v4/qe/identity    QE Identity, header SGX-Enclave-Identity-Issuer-Chain
 *   GET {base}/sgx/certification/v4/pckcrl?ca=…&encoding=der  PCK CRL, header SGX-PCK-CRL-Issuer-Chain
 *   GET https://certificates.trustedservices.intel.com/IntelSGXRootCA.der  Root CA CRL (DER)
 * Issuer chains arrive URL-encoded (RFC 3986) PEM in the headers. Older PCS/PCCS versions name the TCB
 * Info header SGX-TCB-Info-Issuer-Chain; both are accepted.
 */

export type { HttpGetter, HttpResponse } from '../http.js';

export interface PcsClientOptions {
  readonly getter: HttpGetter;
  /** Intel PCS, or a PCCS that serves the same v4 paths. */
  readonly baseUrl?: string;
  readonly rootCaCrlUrl?: string;
  /** Folder for fetched collateral (one QuoteCollateralV3 JSON per TEE, FMSPC and PCK CA). */
  readonly cacheDir?: string;
}

export interface FetchCollateralRequest {
  readonly tee: 'tdx' | 'sgx';
  /** 6 bytes, or 12 hex digits. */
  readonly fmspc: Uint8Array | string;
  /** The CA that issued the quote's PCK certificate. */
  readonly pckCa: 'platform' | 'processor';
  /** PCS `update` parameter for TCB Info and QE Identity: "standard" (PCS default) or "early". */
  readonly update?: 'standard' | 'early';
  /**
   * With a cache folder: reuse cached collateral while every item is still current at `now`.
   * Without `now` the cache is only written, never trusted.
   */
  readonly now?: Date;
}

export const INTEL_PCS_BASE_URL = 'https://api.trustedservices.intel.com';
export const INTEL_ROOT_CA_CRL_URL = 'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der';

export class PcsClient {
  private readonly getter: HttpGetter;
  private readonly baseUrl: string;
  private readonly rootCaCrlUrl: string;
  private readonly cacheDir: string | undefined;

  constructor(opts: PcsClientOptions) {
    this.getter = opts.getter;
    this.baseUrl = (opts.baseUrl ?? INTEL_PCS_BASE_URL).replace(/\/+$/, '');
    this.rootCaCrlUrl = opts.rootCaCrlUrl ?? INTEL_ROOT_CA_CRL_URL;
    this.cacheDir = opts.cacheDir;
  }

  /** The URLs fetched for a request, in order (TCB Info, QE Identity, PCK CRL, Root CA CRL). */
  urls(req: Pick<FetchCollateralRequest, 'tee' | 'fmspc' | 'pckCa' | 'update'>): {
    tcbInfo: string;
    qeIdentity: string;
    pckCrl: string;
    rootCaCrl: string;
  } {
    const fmspc = fmspcHex(req.fmspc);
    if (req.tee !== 'tdx' && req.tee !== 'sgx') fail('INVALID_ARGUMENT', `unknown TEE "${String(req.tee)}"`);
    if (req.pckCa !== 'platform' && req.pckCa !== 'processor') {
      fail('INVALID_ARGUMENT', `pckCa must be "platform" or "processor", not "${String(req.pckCa)}"`);
    }
    if (req.update !== undefined && req.update !== 'standard' && req.update !== 'early') {
      fail('INVALID_ARGUMENT', `update must be "standard" or "early", not "${String(req.update)}"`);
    }
    const update = req.update ? `update=${req.update}` : '';
    return {
      tcbInfo: `${this.baseUrl}/${req.tee}/certification/v4/tcb?fmspc=${fmspc}${update ? `&${update}` : ''}`,
      qeIdentity: `${this.baseUrl}/${req.tee}/certification/v4/qe/identity${update ? `?${update}` : ''}`,
      pckCrl: `${this.baseUrl}/sgx/certification/v4/pckcrl?ca=${req.pckCa}&encoding=der`,
      rootCaCrl: this.rootCaCrlUrl,
    };
  }

  async fetchCollateral(req: FetchCollateralRequest): Promise<IntelCollateral> {
    const urls = this.urls(req);
    const cacheFile = this.cacheDir
      ? join(
          this.cacheDir,
          `${req.tee}-${fmspcHex(req.fmspc)}-${req.pckCa}${req.update === 'early' ? '-early' : ''}.json`,
        )
      : undefined;
    if (cacheFile && req.now) {
      const cached = await readCached(cacheFile, req.now);
      if (cached) return cached;
    }
    const fmspc = fmspcHex(req.fmspc);
    const [tcb, qe, pckCrl, rootCrl] = await Promise.all([
      this.fetch(urls.tcbInfo, `TCB Info for ${req.tee.toUpperCase()} FMSPC ${fmspc}`),
      this.fetch(urls.qeIdentity, `${req.tee === 'tdx' ? 'TD_QE' : 'QE'} Identity`),
      this.fetch(urls.pckCrl, `PCK CRL of the ${req.pckCa} CA`),
      this.fetch(urls.rootCaCrl, 'Intel SGX Root CA CRL'),
    ]);
    const collateral = collateralFromPcsResponses({
      tcbInfoBody: text(tcb.body, 'TCB Info response'),
      tcbInfoIssuerChain: chainHeader(
        tcb,
        ['TCB-Info-Issuer-Chain', 'SGX-TCB-Info-Issuer-Chain'],
        'TCB Info',
      ),
      qeIdentityBody: text(qe.body, 'QE Identity response'),
      qeIdentityIssuerChain: chainHeader(qe, ['SGX-Enclave-Identity-Issuer-Chain'], 'QE Identity'),
      pckCrl: crlBody(pckCrl.body, 'PCK CRL'),
      pckCrlIssuerChain: chainHeader(pckCrl, ['SGX-PCK-CRL-Issuer-Chain'], 'PCK CRL'),
      rootCaCrl: crlBody(rootCrl.body, 'Root CA CRL'),
    });
    if (cacheFile) await writeCached(cacheFile, collateral);
    return collateral;
  }

  private async fetch(url: string, what: string): Promise<HttpResponse> {
    let res: HttpResponse;
    try {
      res = await this.getter.get(url);
    } catch (e) {
      return fail('COLLATERAL_UNAVAILABLE', `${what}: request to ${url} failed`, { url, what }, e);
    }
    if (res.status === 200) return res;
    if (res.status === 429) {
      const retryAfter = headerValue(res, 'Retry-After');
      const seconds =
        retryAfter !== undefined && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter.trim()) : undefined;
      fail(
        'COLLATERAL_RATE_LIMITED',
        `${what}: Intel PCS rate limit reached${retryAfter ? `, retry after ${retryAfter}` : ''}`,
        {
          url,
          what,
          ...(retryAfter !== undefined ? { retryAfter } : {}),
          ...(seconds !== undefined ? { retryAfterSeconds: seconds } : {}),
        },
      );
    }
    if (res.status === 404) {
      fail('COLLATERAL_UNAVAILABLE', `${what}: not found at ${url} (404)`, {
        url,
        what,
        status: 404,
        notFound: what,
      });
    }
    // PCS answers errors with an Error-Code / Error-Message header pair (API v4, "Error codes").
    const code = headerValue(res, 'Error-Code');
    const msg = headerValue(res, 'Error-Message');
    return fail(
      'COLLATERAL_UNAVAILABLE',
      `${what}: HTTP ${res.status} from ${url}${code ? ` (${code}: ${msg ?? ''})` : ''}`,
      {
        url,
        what,
        status: res.status,
        ...(code ? { errorCode: code } : {}),
        ...(msg ? { errorMessage: msg } : {}),
      },
    );
  }
}

function fmspcHex(f: Uint8Array | string): string {
  const s = typeof f === 'string' ? f : Buffer.from(f).toString('hex');
  if (!/^[0-9a-fA-F]{12}$/.test(s)) fail('INVALID_ARGUMENT', 'FMSPC must be 6 bytes (12 hex digits)');
  return s.toUpperCase();
}

function chainHeader(res: HttpResponse, names: readonly string[], what: string): string {
  for (const n of names) {
    const v = headerValue(res, n);
    if (v === undefined) continue;
    try {
      return decodeURIComponent(v);
    } catch (e) {
      return fail('COLLATERAL_MALFORMED', `${what}: header ${n} is not URL-encoded PEM`, { header: n }, e);
    }
  }
  return fail('COLLATERAL_MALFORMED', `${what}: response lacks the ${names.join(' / ')} header`, {
    headers: names,
  });
}

function text(body: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch (e) {
    return fail('COLLATERAL_MALFORMED', `${what}: body is not UTF-8`, { what }, e);
  }
}

/** CRL bodies: DER (encoding=der), or the hex / PEM text some PCCS versions return. */
function crlBody(body: Uint8Array, what: string): Uint8Array {
  if (body[0] === 0x30) return body;
  const s = text(body, what).trim();
  if (/^([0-9a-fA-F]{2})+$/.test(s)) return new Uint8Array(Buffer.from(s, 'hex'));
  const pem = /^-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----$/.exec(s);
  if (pem) return new Uint8Array(Buffer.from(pem[1]!.replace(/\s+/g, ''), 'base64'));
  return fail('COLLATERAL_MALFORMED', `${what}: body is neither DER, hex nor PEM`, { what });
}

/** Cached collateral when every item is current at `now`; undefined when absent, unreadable or stale. */
async function readCached(file: string, now: Date): Promise<IntelCollateral | undefined> {
  let c: IntelCollateral;
  try {
    c = parseCollateralJson(await readFile(file, 'utf8'));
    const windows = [
      parseTcbInfo(c.tcbInfo.text),
      parseQeIdentity(c.qeIdentity.text),
      toWindow(parseCrl(c.pckCrl, 'cached PCK CRL')),
      toWindow(parseCrl(c.rootCaCrl, 'cached Root CA CRL')),
    ];
    if (windows.every((w) => w.issueDate <= now && now <= w.nextUpdate)) return c;
    return undefined;
  } catch (e) {
    if (isAttestationError(e) || (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function toWindow(crl: { thisUpdate: Date; nextUpdate: Date }): { issueDate: Date; nextUpdate: Date } {
  return { issueDate: crl.thisUpdate, nextUpdate: crl.nextUpdate };
}

async function writeCached(file: string, c: IntelCollateral): Promise<void> {
  const dir = join(file, '..');
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, collateralToJson(c));
  await rename(tmp, file);
}

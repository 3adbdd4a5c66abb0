import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAllZero, toHex } from '../bytes.js';
import { fail, isAttestationError } from '../errors.js';
import type { SnpTcb } from '../evidence.js';
import { type HttpGetter, type HttpResponse, headerValue } from '../http.js';
import { parseCertificate, parseCrl } from '../x509.js';
import { parseAmdChain } from './certs.js';
import type { SnpReport } from './report.js';
import type { SnpProduct } from './tcb.js';

/*
 * AMD Key Distribution Service client: VCEKs, certificate chains and CRLs, per "Versioned Chip
 * Endorsement Key (VCEK) Certificate and KDS Interface Specification" #57230, section "KDS Interface":
 *   GET /vcek/v1/{product}/{hwid}?blSPL=&teeSPL=&snpSPL=&ucodeSPL=   (Turin: fmcSPL= first; hwid = 8 bytes)
 *   GET /{vcek|vlek}/v1/{product}/cert_chain                         (PEM: ASK or ASVK, then ARK)
 *   GET /{vcek|vlek}/v1/{product}/crl                                (DER, signed by the ARK)
 * The network is injected (`HttpGetter`): nothing under attestation/ opens a socket. Bodies are parsed
 * before they are cached or returned; verification (chains, windows) is the verifier's job.
 */

export type { HttpGetter, HttpResponse } from '../http.js';

export const AMD_KDS_BASE = 'https://kdsintf.amd.com';

export type KdsKeyKind = 'vcek' | 'vlek';

/** URL of the VCEK for a chip at a TCB. hwID: 64 bytes (Milan, Genoa) or 8 bytes (Turin). */
export function kdsVcekUrl(product: SnpProduct, hwId: Uint8Array, tcb: SnpTcb, base = AMD_KDS_BASE): string {
  const want = product === 'Turin' ? 8 : 64;
  if (hwId.length !== want)
    fail('INVALID_ARGUMENT', `a ${product} hwID is ${want} bytes, got ${hwId.length}`);
  const spl = `blSPL=${tcb.bootloader}&teeSPL=${tcb.tee}&snpSPL=${tcb.snp}&ucodeSPL=${tcb.microcode}`;
  if (product === 'Turin') {
    if (tcb.fmc === undefined) fail('INVALID_ARGUMENT', 'a Turin TCB needs its FMC SPL');
    return `${base}/vcek/v1/${product}/${toHex(hwId)}?fmcSPL=${tcb.fmc}&${spl}`;
  }
  return `${base}/vcek/v1/${product}/${toHex(hwId)}?${spl}`;
}

export function kdsCertChainUrl(product: SnpProduct, kind: KdsKeyKind = 'vcek', base = AMD_KDS_BASE): string {
  return `${base}/${kind}/v1/${product}/cert_chain`;
}

export function kdsCrlUrl(product: SnpProduct, kind: KdsKeyKind = 'vcek', base = AMD_KDS_BASE): string {
  return `${base}/${kind}/v1/${product}/crl`;
}

export interface KdsClientOptions {
  readonly getter: HttpGetter;
  /** Directory for the on-disk cache; no caching when absent. */
  readonly cacheDir?: string;
  /** Another KDS-compatible endpoint (a caching proxy). */
  readonly baseUrl?: string;
}

export class KdsClient {
  private readonly getter: HttpGetter;
  private readonly cacheDir: string | undefined;
  private readonly base: string;

  constructor(opts: KdsClientOptions) {
    this.getter = opts.getter;
    this.cacheDir = opts.cacheDir;
    this.base = opts.baseUrl ?? AMD_KDS_BASE;
  }

  /** The VCEK (DER) for a chip at a TCB. Cached indefinitely: a URL names exactly one certificate. */
  async fetchVcek(product: SnpProduct, hwId: Uint8Array, tcb: SnpTcb): Promise<Uint8Array> {
    const url = kdsVcekUrl(product, hwId, tcb, this.base);
    return this.cached(url, (body) => {
      parseCertificate(body, `KDS VCEK ${product}`);
    });
  }

  /** The VCEK a report needs: its product (CPUID, or `product` for v2 reports), CHIP_ID and REPORTED_TCB. */
  async fetchVcekForReport(report: SnpReport, product?: SnpProduct): Promise<Uint8Array> {
    const p = report.cpuidProduct ?? product;
    if (!p) fail('INVALID_ARGUMENT', 'a v2 report names no product: pass it explicitly');
    if (report.signerInfo.signingKey !== 'vcek') {
      fail('INVALID_ARGUMENT', 'the report is not VCEK-signed: KDS serves VLEKs only to cloud providers');
    }
    if (isAllZero(report.chipId))
      fail('INVALID_ARGUMENT', 'the report masks CHIP_ID: no VCEK can be looked up');
    return this.fetchVcek(p, report.chipId.subarray(0, p === 'Turin' ? 8 : 64), report.reportedTcb);
  }

  /** ASK (or ASVK) then ARK, PEM. Cached indefinitely (25-year CAs; the verifier still checks windows). */
  async fetchCertChain(product: SnpProduct, kind: KdsKeyKind = 'vcek'): Promise<string> {
    const url = kdsCertChainUrl(product, kind, this.base);
    const body = await this.cached(url, (b) => {
      parseAmdChain(Buffer.from(b).toString('utf8'), `KDS ${kind} cert_chain ${product}`);
    });
    return Buffer.from(body).toString('utf8');
  }

  /** The ARK-signed CRL (DER). A cached copy is reused while `now` is before its nextUpdate. */
  async fetchCrl(product: SnpProduct, now: Date, kind: KdsKeyKind = 'vcek'): Promise<Uint8Array> {
    const url = kdsCrlUrl(product, kind, this.base);
    const what = `KDS ${kind} CRL ${product}`;
    const fresh = (b: Uint8Array) => {
      const crl = parseCrl(b, what);
      return now >= crl.thisUpdate && now <= crl.nextUpdate;
    };
    const onDisk = await this.readCache(url);
    if (onDisk) {
      try {
        if (fresh(onDisk)) return onDisk;
      } catch {
        // A damaged cache file is refetched.
      }
    }
    const body = await this.download(url);
    parseCrl(body, what);
    await this.writeCache(url, body);
    return body;
  }

  private async cached(url: string, validate: (body: Uint8Array) => void): Promise<Uint8Array> {
    const onDisk = await this.readCache(url);
    if (onDisk) {
      try {
        validate(onDisk);
        return onDisk;
      } catch {
        // A damaged cache file is refetched.
      }
    }
    const body = await this.download(url);
    validate(body);
    await this.writeCache(url, body);
    return body;
  }

  private async download(url: string): Promise<Uint8Array> {
    let res: HttpResponse;
    try {
      res = await this.getter.get(url);
    } catch (e) {
      if (isAttestationError(e)) throw e;
      return fail('COLLATERAL_UNAVAILABLE', `AMD KDS request failed: ${url}`, { url }, e);
    }
    if (res.status === 200) return new Uint8Array(res.body);
    if (res.status === 429) {
      const retryAfter = headerValue(res, 'retry-after');
      fail(
        'COLLATERAL_RATE_LIMITED',
        `AMD KDS rate-limited the request (429)${retryAfter ? `; retry after ${retryAfter}` : ''}: ${url}`,
        {
          url,
          status: 429,
          ...(retryAfter !== undefined && { retryAfter }),
        },
      );
    }
    if (res.status === 404) {
      fail('COLLATERAL_UNAVAILABLE', `AMD KDS has no such item (404): ${url}`, { url, status: 404 });
    }
    return fail('COLLATERAL_UNAVAILABLE', `AMD KDS answered HTTP ${res.status}: ${url}`, {
      url,
      status: res.status,
    });
  }

  private pathFor(url: string): string | undefined {
    return this.cacheDir === undefined
      ? undefined
      : join(this.cacheDir, `${createHash('sha256').update(url).digest('hex')}.bin`);
  }

  private async readCache(url: string): Promise<Uint8Array | undefined> {
    const p = this.pathFor(url);
    if (!p) return undefined;
    try {
      return new Uint8Array(await readFile(p));
    } catch {
      return undefined;
    }
  }

  private async writeCache(url: string, body: Uint8Array): Promise<void> {
    const p = this.pathFor(url);
    if (!p || !this.cacheDir) return;
    await mkdir(this.cacheDir, { recursive: true });
    const tmp = `${p}.${process.pid}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, p);
  }
}

import type { X509Certificate } from 'node:crypto';
import { parseQeIdentity } from '../../attestation/intel/qe-identity.js';
import { parseTcbInfo } from '../../attestation/intel/tcb-info.js';
import { parseAmdChain } from '../../attestation/sev-snp/certs.js';
import {
  certValidity,
  commonName,
  parseCertificate,
  parseCrl,
  parsePemChain,
} from '../../attestation/x509.js';
import type { PlatformCollateral } from './collateral-source.js';

/*
 * When collateral stops being usable, and when to ask for newer: the earliest `nextUpdate` (or
 * certificate notAfter) over everything the bundle carries, a refresh time ahead of it, and the
 * bounded backoff between failed attempts. Pure functions of their inputs.
 */

export interface ExpiringItem {
  readonly what: string;
  readonly nextUpdate: Date;
}

/** Every item of the collateral that expires, earliest first. */
export function expiringItems(c: PlatformCollateral): ExpiringItem[] {
  const items: ExpiringItem[] = [];
  const certs = (chain: readonly X509Certificate[], what: string) => {
    for (const cert of chain)
      items.push({ what: `${what}: ${commonName(cert)}`, nextUpdate: certValidity(cert).notAfter });
  };
  if (c.intel) {
    const i = c.intel;
    items.push({ what: 'TCB Info', nextUpdate: parseTcbInfo(i.tcbInfo.text).nextUpdate });
    items.push({ what: 'QE Identity', nextUpdate: parseQeIdentity(i.qeIdentity.text).nextUpdate });
    items.push({ what: 'PCK CRL', nextUpdate: parseCrl(i.pckCrl, 'PCK CRL').nextUpdate });
    items.push({ what: 'Root CA CRL', nextUpdate: parseCrl(i.rootCaCrl, 'Root CA CRL').nextUpdate });
    certs(parsePemChain(i.tcbInfo.issuerChain, 'TCB Info issuer chain'), 'TCB Info issuer chain');
    certs(parsePemChain(i.qeIdentity.issuerChain, 'QE Identity issuer chain'), 'QE Identity issuer chain');
    certs(parsePemChain(i.pckCrlIssuerChain, 'PCK CRL issuer chain'), 'PCK CRL issuer chain');
  }
  if (c.snp) {
    const s = c.snp;
    if (s.vcek) certs([parseCertificate(s.vcek, 'VCEK')], 'VCEK');
    if (s.vlek) certs([parseCertificate(s.vlek, 'VLEK')], 'VLEK');
    if (s.chain) certs(parseAmdChain(s.chain, 'AMD chain'), 'AMD chain');
    if (s.crl) items.push({ what: 'AMD CRL', nextUpdate: parseCrl(s.crl, 'AMD CRL').nextUpdate });
  }
  return items.sort((a, b) => a.nextUpdate.getTime() - b.nextUpdate.getTime());
}

export interface ScheduleOptions {
  /** Refresh at the latest this long before the earliest nextUpdate (default 7 days). */
  readonly leadMs?: number;
  /** Never refresh sooner than this after a successful refresh (default 10 minutes). */
  readonly minIntervalMs?: number;
  /** First retry delay after a failed refresh; doubled per failure (default 1 minute). */
  readonly retryFirstMs?: number;
  /** Longest retry delay (default 1 hour). */
  readonly retryMaxMs?: number;
  /** Consecutive failed attempts after which the keeper stops retrying until refreshNow() (default 400). */
  readonly maxAttempts?: number;
}

export const DEFAULT_SCHEDULE: Required<ScheduleOptions> = {
  leadMs: 7 * 24 * 3600_000,
  minIntervalMs: 10 * 60_000,
  retryFirstMs: 60_000,
  retryMaxMs: 3600_000,
  maxAttempts: 400,
};

/**
 * The next refresh after collateral valid until `nextUpdate` was obtained at `now`: the earlier of
 * `leadMs` before nextUpdate and half the remaining validity, but no sooner than `minIntervalMs`
 * (also when nextUpdate is past or not a time).
 */
export function refreshTime(now: Date, nextUpdate: Date, o: Required<ScheduleOptions>): Date {
  const remaining = nextUpdate.getTime() - now.getTime();
  const at = Math.min(nextUpdate.getTime() - o.leadMs, now.getTime() + Math.floor(remaining / 2));
  const soonest = now.getTime() + o.minIntervalMs;
  return new Date(Number.isFinite(at) ? Math.max(at, soonest) : soonest);
}

/** Delay before attempt `failures + 1` after `failures` consecutive failures (≥ 1): doubling, capped. */
export function retryDelay(failures: number, o: Required<ScheduleOptions>): number {
  const exp = Math.min(Math.max(failures - 1, 0), 40);
  return Math.min(o.retryFirstMs * 2 ** exp, o.retryMaxMs);
}

import { InvalidArgumentError } from 'commander';
import { getAddress, isAddress } from 'ethers';
import { CodedError } from '../attestation/errors.js';
import { UsageError } from './errors.js';

/*
 * Option-argument parsers for commander's `.argParser()`: a value is checked and converted while the
 * command line is parsed, and a bad one is a usage error (exit 2) that commander words as
 * "option '--x <v>' argument 'bad' is invalid. <reason>". Parsers never see secrets: private keys
 * come from files (`--key <file>`).
 */

/** A safe integer in [min, max]. */
export function integerArg(min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = /^[0-9]+$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `Expected an integer ≥ ${min}.`
          : `Expected an integer from ${min} to ${max}.`,
      );
    return n;
  };
}

/** A uint256 in decimal (lease ids, token amounts), as a bigint. */
export function uint256Arg(v: string): bigint {
  if (!/^[0-9]{1,78}$/.test(v) || BigInt(v) >= 1n << 256n)
    throw new InvalidArgumentError('Expected a decimal integer below 2^256.');
  return BigInt(v);
}

/** A 20-byte address (0x, lower-case or EIP-55 checksummed), returned lower-case. */
export function addressArg(v: string): string {
  if (!isAddress(v))
    throw new InvalidArgumentError('Expected a 0x address of 20 bytes (EIP-55 if mixed-case).');
  return getAddress(v).toLowerCase();
}

/** A 32-byte hash in hex (0x optional), as bytes. */
export function hash32Arg(v: string): Uint8Array {
  const h = v.replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{64}$/.test(h)) throw new InvalidArgumentError('Expected 32 bytes of hex (64 digits).');
  return new Uint8Array(Buffer.from(h, 'hex'));
}

/** An RFC 3339 time with an explicit zone, e.g. 2025-07-01T00:00:00Z. */
export function timeArg(v: string): Date {
  const d = new Date(v);
  if (
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(v) ||
    Number.isNaN(d.getTime())
  )
    throw new InvalidArgumentError('Expected an RFC 3339 time, e.g. 2025-07-01T00:00:00Z.');
  return d;
}

/** host:port (IPv6 hosts in brackets), the port 0-65535. */
export function hostPortArg(v: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new InvalidArgumentError('Expected host:port, e.g. 127.0.0.1:7443.');
  return v;
}

/** The host and the port of a `hostPortArg` value. */
export function splitHostPort(v: string): { host: string; port: number } {
  const at = v.lastIndexOf(':');
  return { host: v.slice(0, at), port: Number(v.slice(at + 1)) };
}

/** The listen errors the user can fix by another `--listen` (in use, not available, not allowed). */
const LISTEN_ERRNO = /\b(EADDRINUSE|EADDRNOTAVAIL|EACCES)\b/;

/**
 * A server's failed bind as the usage error it is (the user can give another `--listen`), naming the
 * errno: Node sets it as the error's code, gRPC only in its message. Anything else, and any typed
 * error of ours, is returned as it is.
 */
export function listenFailure(e: unknown, listen: string): unknown {
  if (e instanceof CodedError) return e;
  const errno = LISTEN_ERRNO.exec(
    `${(e as { code?: unknown } | undefined)?.code ?? ''} ${e instanceof Error ? e.message : ''}`,
  );
  if (!errno) return e;
  return new UsageError(`--listen: cannot listen on ${listen} (${errno[1]})`, 'INVALID_ARGUMENT', {
    flag: '--listen',
    errno: errno[1],
  });
}

/** An http(s) URL. */
export function httpUrlArg(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError('Expected an http(s) URL.');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new InvalidArgumentError('Expected an http(s) URL.');
  return v;
}

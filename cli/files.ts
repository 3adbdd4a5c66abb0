import { readFile, stat } from 'node:fs/promises';
import { isAttestationError } from '../attestation/errors.js';
import { type Policy, parsePolicy } from '../attestation/policy.js';
import { type AgentDeployment, parseDeployment } from '../verifier/agent/chain.js';
import { UsageError } from './errors.js';

/*
 * Files named on the command line. A file that is missing, unreadable or not what its flag expects
 * is the user's mistake: a UsageError (exit 2) that names the flag and the path, never the content.
 */

function unreadable(what: string, path: string, e: unknown): UsageError {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT'
    ? new UsageError(`${what}: ${path} does not exist`, 'FILE_NOT_FOUND', { flag: what, path })
    : new UsageError(`${what}: cannot read ${path} (${code ?? 'error'})`, 'FILE_UNREADABLE', {
        flag: what,
        path,
      });
}

/** Fails with a UsageError unless `path` exists (a file or a directory). */
export async function exists(path: string, what: string): Promise<void> {
  try {
    await stat(path);
  } catch (e) {
    throw unreadable(what, path, e);
  }
}

export async function readBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw unreadable(what, path, e);
  }
}

export async function readText(path: string, what: string): Promise<string> {
  return new TextDecoder().decode(await readBytes(path, what));
}

/** secp256k1's group order (SEC 2, section 2.4.1): a private key is an integer in [1, n-1]. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** 64 hex digits (0x optional) naming a valid secp256k1 private key, 0x-prefixed; else undefined. */
function privateKeyHex(text: string): string | undefined {
  const t = text.trim();
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(t)) return undefined;
  const h = t.startsWith('0x') ? t : `0x${t}`;
  const k = BigInt(h);
  return k > 0n && k < SECP256K1_N ? h : undefined;
}

/**
 * A private key from a file (`--key <file>`): one line of 64 hex digits. A file holding anything
 * else is refused, naming the file and never echoing what it holds.
 */
export async function readPrivateKey(path: string, what = '--key'): Promise<string> {
  const key = privateKeyHex(await readText(path, what));
  if (key === undefined)
    throw new UsageError(
      `${what}: ${path} does not hold a secp256k1 private key (expected one line of 64 hex digits)`,
      'FILE_INVALID',
      { flag: what, path },
    );
  return key;
}

/** A private key from an environment variable (the same rule as a key file); undefined when unset. */
export function privateKeyFromEnv(name: string): string | undefined {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return undefined;
  const key = privateKeyHex(v);
  if (key === undefined)
    throw new UsageError(
      `$${name} does not hold a secp256k1 private key (expected 64 hex digits)`,
      'INVALID_ARGUMENT',
      {
        env: name,
      },
    );
  return key;
}

/** An attestation policy file (`--policy`): a malformed one is the user's mistake, not the evidence's. */
export async function readPolicy(path: string, what = '--policy'): Promise<Policy> {
  const text = await readText(path, what);
  try {
    return parsePolicy(text);
  } catch (e) {
    if (isAttestationError(e))
      throw new UsageError(`${what}: ${path}: ${e.message}`, 'FILE_INVALID', {
        flag: what,
        path,
        reason: e.code,
      });
    throw e;
  }
}

/** A deployment file (`chain up --out`): the chain id and contract addresses, and `rpcUrl` if it has one. */
export async function readDeployment(path: string): Promise<AgentDeployment & { rpcUrl?: string }> {
  const text = await readText(path, '--deployment');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UsageError(`--deployment: ${path} is not JSON`, 'FILE_INVALID', { flag: '--deployment', path });
  }
  try {
    return parseDeployment(v, path) as AgentDeployment & { rpcUrl?: string };
  } catch (e) {
    throw new UsageError(`--deployment: ${(e as Error).message}`, 'FILE_INVALID', {
      flag: '--deployment',
      path,
    });
  }
}

/**
 * What a chain command with a wallet needs: the key (`--key <file>`, else `$<env>`), the deployment
 * file and the endpoint (`--rpc`, else the deployment file's `rpcUrl`); usage errors naming the flag.
 */
export async function walletAndChain(
  o: { key?: string; deployment: string; rpc?: string },
  who: string,
  env: string,
): Promise<{ key: string; deployment: AgentDeployment & { rpcUrl?: string }; rpc: string }> {
  const key = o.key !== undefined ? await readPrivateKey(o.key) : privateKeyFromEnv(env);
  if (key === undefined)
    throw new UsageError(`give the ${who} key with --key <file> or $${env}`, 'MISSING_ARGUMENT', {
      flag: '--key',
    });
  const deployment = await readDeployment(o.deployment);
  const rpc = o.rpc ?? deployment.rpcUrl;
  if (rpc === undefined)
    throw new UsageError('give --rpc <url> (the deployment file names no rpcUrl)', 'MISSING_ARGUMENT', {
      flag: '--rpc',
    });
  return { key, deployment, rpc };
}

import { getBytes, TypedDataEncoder } from 'ethers';
import { fromHex, toHex } from '../attestation/bytes.js';
import type {
  ProbeGrant__Output,
  ProbeGrant as ProbeGrantMsg,
} from '../proto/gen/defaas/executor/v1/ProbeGrant.js';
import { sessionFail } from './errors.js';
import { recoverDigestSigner, signDigest } from './secp256k1.js';
import { eip712Domain, type TypedDataDomain } from './typed-data.js';
import { parseAddress, parseUint } from './wire.js';

/*
 * The customer's authorisation of a witness's hidden probes (docs/contracts.md, "Hidden probes"):
 * EIP-712 `ProbeGrant` in the Settlement domain of typed-data.ts, signed by the lease's customer.
 * The witness calls the customer's function through its own session with its own wallet and pays
 * with vouchers it signs itself (the ordinary `Voucher`, in its own nonce space and cumulative
 * amounts); the provider redeems them with `Settlement.redeemProbes`, out of the lease budget.
 *   - `maxAmount`: cumulative cap on what the witness's vouchers may release on the lease (over
 *     every grant to that witness: a later grant states a larger total). Checked by the contract.
 *   - `epoch`, `maxCalls`, `expiry` (Unix seconds): the executor accepts probes under the grant only
 *     in that epoch of the lease, at most `maxCalls` of them, and not after `expiry`. Not checked by
 *     the contract.
 */

export const PROBE_GRANT_TYPES = {
  ProbeGrant: [
    { name: 'leaseId', type: 'uint256' },
    { name: 'witness', type: 'address' },
    { name: 'epoch', type: 'uint32' },
    { name: 'maxCalls', type: 'uint32' },
    { name: 'maxAmount', type: 'uint256' },
    { name: 'expiry', type: 'uint64' },
  ],
} as const;

export interface ProbeGrant {
  readonly leaseId: bigint;
  /** 0x address of the witness wallet that signs the probe vouchers. */
  readonly witness: string;
  readonly epoch: bigint;
  readonly maxCalls: bigint;
  /** Cumulative cap, in token base units, on the witness's vouchers for this lease. */
  readonly maxAmount: bigint;
  /** Unix seconds after which the executor serves no probe under this grant. */
  readonly expiry: bigint;
}

export interface SignedProbeGrant {
  readonly grant: ProbeGrant;
  /** 65 bytes r ‖ s ‖ v by the lease's customer. */
  readonly signature: Uint8Array;
}

/** 0x-hex EIP-712 digest of the grant in the Settlement domain (what `Settlement.probeGrantDigest` returns). */
export function probeGrantDigest(domain: TypedDataDomain, g: ProbeGrant): string {
  return TypedDataEncoder.hash(eip712Domain(domain), { ProbeGrant: [...PROBE_GRANT_TYPES.ProbeGrant] }, g);
}

/** The customer's 65-byte signature (r ‖ s ‖ v, low s) over the grant. */
export function signProbeGrant(priv: Uint8Array, domain: TypedDataDomain, g: ProbeGrant): SignedProbeGrant {
  return { grant: g, signature: signDigest(priv, getBytes(probeGrantDigest(domain, g))) };
}

/** Lower-case signer address, or null when the signature is malformed or invalid. */
export function probeGrantSigner(domain: TypedDataDomain, sg: SignedProbeGrant): string | null {
  return recoverDigestSigner(getBytes(probeGrantDigest(domain, sg.grant)), sg.signature);
}

/** A signed grant as JSON carries it: uints as decimal strings, the signature as 0x hex. */
export interface ProbeGrantJson {
  readonly leaseId: string;
  readonly witness: string;
  readonly epoch: string;
  readonly maxCalls: string;
  readonly maxAmount: string;
  readonly expiry: string;
  readonly signature: string;
}

export function probeGrantToJson(sg: SignedProbeGrant): ProbeGrantJson {
  const g = sg.grant;
  return {
    leaseId: g.leaseId.toString(),
    witness: g.witness,
    epoch: g.epoch.toString(),
    maxCalls: g.maxCalls.toString(),
    maxAmount: g.maxAmount.toString(),
    expiry: g.expiry.toString(),
    signature: `0x${toHex(sg.signature)}`,
  };
}

const JSON_KEYS = ['leaseId', 'witness', 'epoch', 'maxCalls', 'maxAmount', 'expiry', 'signature'] as const;

/**
 * Parses a signed grant from its JSON value (an object, or its text) strictly: exactly the keys of
 * {@link ProbeGrantJson}, each a string, uints in range, a 20-byte address (returned lower-case) and a
 * 65-byte signature. Throws REQUEST_MALFORMED otherwise. The signer is not checked here
 * ({@link probeGrantSigner}).
 */
export function parseProbeGrantJson(value: unknown): SignedProbeGrant {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      sessionFail('REQUEST_MALFORMED', 'probe grant is not JSON');
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    sessionFail('REQUEST_MALFORMED', 'probe grant must be a JSON object');
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  const extra = keys.filter((k) => !(JSON_KEYS as readonly string[]).includes(k));
  if (extra.length > 0) sessionFail('REQUEST_MALFORMED', `probe grant has unknown field ${extra[0]}`);
  const field = (k: (typeof JSON_KEYS)[number]): string => {
    const x = o[k];
    if (typeof x !== 'string') return sessionFail('REQUEST_MALFORMED', `probeGrant.${k} must be a string`);
    return x;
  };
  const sigHex = field('signature');
  if (!/^0x[0-9a-fA-F]{130}$/.test(sigHex))
    sessionFail('REQUEST_MALFORMED', 'probeGrant.signature must be 65 bytes of 0x hex');
  return {
    grant: {
      leaseId: parseUint(field('leaseId'), 'probeGrant.leaseId'),
      witness: parseAddress(field('witness'), 'probeGrant.witness'),
      epoch: parseUint(field('epoch'), 'probeGrant.epoch', 32),
      maxCalls: parseUint(field('maxCalls'), 'probeGrant.maxCalls', 32),
      maxAmount: parseUint(field('maxAmount'), 'probeGrant.maxAmount'),
      expiry: parseUint(field('expiry'), 'probeGrant.expiry', 64),
    },
    signature: fromHex(sigHex.slice(2)),
  };
}

/** The grant as SyncRequest.probe_grant carries it. */
export function probeGrantToWire(sg: SignedProbeGrant): ProbeGrantMsg {
  const g = sg.grant;
  return {
    leaseId: g.leaseId.toString(),
    witness: g.witness,
    epoch: Number(g.epoch),
    maxCalls: Number(g.maxCalls),
    maxAmount: g.maxAmount.toString(),
    expiry: g.expiry.toString(),
    signature: Buffer.from(sg.signature),
  };
}

/**
 * Parses SyncRequest.probe_grant strictly: uints in range, a 20-byte address (returned lower-case)
 * and a 65-byte signature; REQUEST_MALFORMED otherwise. The signer is not checked here.
 */
export function probeGrantFromWire(w: ProbeGrant__Output): SignedProbeGrant {
  if (w.signature.length !== 65) sessionFail('REQUEST_MALFORMED', 'probeGrant.signature must be 65 bytes');
  return {
    grant: {
      leaseId: parseUint(w.leaseId, 'probeGrant.leaseId'),
      witness: parseAddress(w.witness, 'probeGrant.witness'),
      epoch: uint32(w.epoch, 'probeGrant.epoch'),
      maxCalls: uint32(w.maxCalls, 'probeGrant.maxCalls'),
      maxAmount: parseUint(w.maxAmount, 'probeGrant.maxAmount'),
      expiry: parseUint(w.expiry, 'probeGrant.expiry', 64),
    },
    signature: new Uint8Array(w.signature),
  };
}

function uint32(n: number, what: string): bigint {
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff)
    sessionFail('REQUEST_MALFORMED', `${what} exceeds uint32`);
  return BigInt(n);
}

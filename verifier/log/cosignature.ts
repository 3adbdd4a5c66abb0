import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { type Checkpoint, type OpenCheckpointOptions, openCheckpoint } from './checkpoint.js';
import { isLogError, logFail } from './errors.js';
import {
  ed25519SignerKey,
  ed25519Verify,
  formatSignerKey,
  formatVerifierKey,
  type NoteSignature,
  type NoteVerifier,
  type OpenedNote,
  parseVerifierKey,
} from './note.js';
import { describeQuorum, type QuorumRule, quorumMet } from './quorum.js';

/*
 * c2sp.org/tlog-cosignature, the Ed25519 type: a witness's note signature on a checkpoint, over
 *
 *     cosignature/v1
 *     time <POSIX seconds>
 *     <the checkpoint's note text>
 *
 * encoded as key ID ‖ u64 big-endian timestamp ‖ 64-byte Ed25519 signature. (The ML-DSA-44 type the
 * spec also defines, and recommends for new deployments, is not implemented.)
 */

/** Signature type of timestamped Ed25519 cosignatures (signed-note, "Signature types"; tlog-cosignature, "Format"). */
export const SIG_TYPE_COSIGNATURE_V1 = 0x04;
/** timestamp (8) ‖ Ed25519 signature (64): the `timestamped_signature` structure ("Format"). */
export const COSIGNATURE_BYTES = 8 + 64;

const utf8 = new TextEncoder();

/** The signed message ("Ed25519 signed message"): header line, time line, checkpoint note text. */
export function cosignedMessage(checkpointText: Uint8Array | string, timestamp: number): Uint8Array {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0)
    logFail('LOG_INVALID_ARGUMENT', 'timestamp must be a non-negative safe integer', { timestamp });
  const text = typeof checkpointText === 'string' ? utf8.encode(checkpointText) : checkpointText;
  const head = utf8.encode(`cosignature/v1\ntime ${timestamp}\n`);
  const out = new Uint8Array(head.length + text.length);
  out.set(head);
  out.set(text, head.length);
  return out;
}

/** A cosignature's timestamp and Ed25519 signature. */
export interface Cosignature {
  /** POSIX seconds. */
  readonly timestamp: number;
  readonly signature: Uint8Array;
}

/**
 * Splits a cosignature's bytes (after the key ID) into timestamp and signature ("Format"). A
 * timestamp above 2^63 − 1 is malformed; one above 2^53 − 1 is refused as LOG_TOO_LARGE.
 */
export function parseCosignature(bytes: Uint8Array): Cosignature {
  if (bytes.length !== COSIGNATURE_BYTES)
    logFail('LOG_COSIGNATURE_MALFORMED', `cosignature has ${bytes.length} bytes, not ${COSIGNATURE_BYTES}`);
  const t = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0);
  if (t > 2n ** 63n - 1n) logFail('LOG_COSIGNATURE_MALFORMED', 'cosignature timestamp exceeds 2^63 - 1');
  if (t > BigInt(Number.MAX_SAFE_INTEGER)) logFail('LOG_TOO_LARGE', 'cosignature timestamp exceeds 2^53 - 1');
  return { timestamp: Number(t), signature: bytes.slice(8) };
}

function formatCosignature(c: Cosignature): Uint8Array {
  const out = new Uint8Array(COSIGNATURE_BYTES);
  new DataView(out.buffer).setBigUint64(0, BigInt(c.timestamp));
  out.set(c.signature, 8);
  return out;
}

/** A witness's cosignature verifier; also a NoteVerifier, so `openNote` checks cosignatures too. */
export interface CosignatureVerifier extends NoteVerifier {
  readonly publicKey: Uint8Array;
  readonly verifierKey: string;
}

/** A verifier for a type 0x04 vkey ("Format": Ed25519 cosigner keys MAY be encoded as vkeys of type 0x04). */
export function cosignatureVerifier(vkey: string): CosignatureVerifier {
  const k = parseVerifierKey(vkey);
  if (k.type !== SIG_TYPE_COSIGNATURE_V1)
    logFail('LOG_KEY_MALFORMED', `vkey has signature type ${k.type}, not cosignature/v1 (4)`, {
      name: k.name,
    });
  if (k.publicKey.length !== 32)
    logFail('LOG_KEY_MALFORMED', 'cosigner vkey key is not 32 bytes', { name: k.name });
  const { publicKey } = k;
  return {
    name: k.name,
    keyId: k.keyId,
    publicKey,
    verifierKey: vkey,
    verify(text, sig) {
      let c: Cosignature;
      try {
        c = parseCosignature(sig);
      } catch {
        return false;
      }
      return ed25519Verify(publicKey, cosignedMessage(text, c.timestamp), c.signature);
    },
  };
}

/** A witness's signing side. */
export interface Cosigner {
  readonly name: string;
  readonly keyId: number;
  readonly verifierKey: string;
  /** The cosignature on a checkpoint's note text at `timestamp` (POSIX seconds, from the caller's clock). */
  cosign(checkpointText: string, timestamp: number): NoteSignature;
}

/** A cosigner from signer key text of type 0x04 (`PRIVATE+KEY+<name>+<id>+base64(0x04 ‖ seed)`). */
export function cosigner(skey: string): Cosigner {
  const { name, keyId, seed, publicKey } = ed25519SignerKey(skey, SIG_TYPE_COSIGNATURE_V1);
  return {
    name,
    keyId,
    verifierKey: formatVerifierKey(name, SIG_TYPE_COSIGNATURE_V1, publicKey),
    cosign(checkpointText, timestamp) {
      const signature = ed25519.sign(cosignedMessage(checkpointText, timestamp), seed);
      return { name, keyId, signature: formatCosignature({ timestamp, signature }) };
    },
  };
}

/** A new cosigner key: its signer key text and type 0x04 vkey. `seed` is for tests. */
export function generateCosignerKey(
  name: string,
  seed: Uint8Array = new Uint8Array(randomBytes(32)),
): { signerKey: string; verifierKey: string } {
  return {
    signerKey: formatSignerKey(name, SIG_TYPE_COSIGNATURE_V1, seed),
    verifierKey: formatVerifierKey(name, SIG_TYPE_COSIGNATURE_V1, ed25519.getPublicKey(seed)),
  };
}

/**
 * A client's witness policy: known witnesses and either k of them (tlog-proof, "Verifying a tlog
 * proof", step 3) or a tlog-policy quorum rule over them (verifier/log/policy.ts).
 */
export type WitnessPolicy =
  | { readonly witnesses: readonly CosignatureVerifier[]; readonly threshold: number }
  | { readonly witnesses: readonly CosignatureVerifier[]; readonly quorum: QuorumRule };

/** The policy's rule: a k-of-n threshold is a group of all its witnesses. */
export function quorumRuleOf(policy: WitnessPolicy): QuorumRule {
  if ('quorum' in policy) return policy.quorum;
  const n = policy.witnesses.length;
  if (!Number.isInteger(policy.threshold) || policy.threshold < 0 || policy.threshold > n)
    logFail('LOG_INVALID_ARGUMENT', `threshold must be 0 to ${n}`, { threshold: policy.threshold });
  if (policy.threshold === 0) return { kind: 'none' };
  return {
    kind: 'group',
    name: 'witnesses',
    threshold: policy.threshold,
    members: policy.witnesses.map((w) => ({
      kind: 'witness',
      name: w.name,
      keyName: w.name,
      keyId: w.keyId,
    })),
  };
}

export interface CosignedBy {
  readonly name: string;
  readonly keyId: number;
  readonly timestamp: number;
}

export interface QuorumResult {
  readonly checkpoint: Checkpoint;
  readonly note: OpenedNote;
  /** Witnesses of the policy whose cosignature verified (and is not in the future), in note order. */
  readonly cosigners: readonly CosignedBy[];
  /** Valid cosignatures not counted, with why (a timestamp in the future). */
  readonly notCounted: ReadonlyArray<CosignedBy & { readonly reason: string }>;
  readonly met: boolean;
}

export interface QuorumOptions extends Pick<OpenCheckpointOptions, 'origin'> {
  /**
   * The verifier's clock (POSIX seconds). With it, a cosignature timestamped more than
   * `maxFutureSeconds` (default 0) after `now` is not counted (tlog-cosignature: verifiers MAY
   * reject cosignatures with timestamps in the future).
   */
  readonly now?: number;
  readonly maxFutureSeconds?: number;
}

/**
 * Opens a signed checkpoint with the log's keys and counts the valid cosignatures of the policy's
 * witnesses. A cosignature by a known witness that does not verify refuses the note
 * (LOG_COSIGNATURE_INVALID: signed-note says a bad signature by a known key rejects the note);
 * cosignatures by unknown keys are ignored.
 */
export function countCosignatures(
  msg: string | Uint8Array,
  logKeys: readonly NoteVerifier[],
  policy: WitnessPolicy,
  options: QuorumOptions = {},
): QuorumResult {
  const rule = quorumRuleOf(policy);
  const isWitness = (s: { name: string; keyId: number }) =>
    policy.witnesses.some((w) => w.name === s.name && w.keyId === s.keyId);
  let opened: ReturnType<typeof openCheckpoint>;
  try {
    opened = openCheckpoint(msg, logKeys, {
      ...(options.origin === undefined ? {} : { origin: options.origin }),
      others: policy.witnesses,
    });
  } catch (e) {
    if (isLogError(e, 'LOG_NOTE_SIGNATURE_INVALID')) {
      const key = String(e.info.key);
      if (policy.witnesses.some((w) => `${w.name}+${w.keyId.toString(16).padStart(8, '0')}` === key))
        logFail('LOG_COSIGNATURE_INVALID', `cosignature by witness ${key} does not verify`, { key }, e);
    }
    throw e;
  }
  const cosigners: CosignedBy[] = [];
  const notCounted: Array<CosignedBy & { reason: string }> = [];
  const limit = options.now === undefined ? undefined : options.now + (options.maxFutureSeconds ?? 0);
  for (const s of opened.note.verified) {
    if (!isWitness(s)) continue;
    const by = { name: s.name, keyId: s.keyId, timestamp: parseCosignature(s.signature).timestamp };
    if (limit !== undefined && by.timestamp > limit)
      notCounted.push({ ...by, reason: 'timestamp in the future' });
    else cosigners.push(by);
  }
  const met = quorumMet(rule, (name, keyId) => cosigners.some((c) => c.name === name && c.keyId === keyId));
  return { ...opened, cosigners, notCounted, met };
}

/** As `countCosignatures`, but refuses with LOG_QUORUM_NOT_MET when the quorum is not met. */
export function checkQuorum(
  msg: string | Uint8Array,
  logKeys: readonly NoteVerifier[],
  policy: WitnessPolicy,
  options: QuorumOptions = {},
): QuorumResult {
  const r = countCosignatures(msg, logKeys, policy, options);
  if (!r.met)
    logFail(
      'LOG_QUORUM_NOT_MET',
      `cosigned by ${r.cosigners.length === 0 ? 'no witness' : r.cosigners.map((c) => c.name).join(', ')}; the policy needs ${describeQuorum(quorumRuleOf(policy))}`,
      {
        cosigners: r.cosigners.map((c) => c.name),
        quorum: describeQuorum(quorumRuleOf(policy)),
        notCounted: r.notCounted.map((c) => `${c.name}: ${c.reason}`),
      },
    );
  return r;
}

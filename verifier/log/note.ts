import { createHash, randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { isValidKeyName, parseBase64, toBase64 } from './encoding.js';
import { type LogErrorCode, logFail } from './errors.js';

/*
 * c2sp.org/signed-note: text signed by one or more keys, with Ed25519 keys (signature type 0x01),
 * verifier keys ("vkeys") and the signer key text of golang.org/x/mod/sumdb/note.
 *
 *     <text, ending in a newline>
 *     <blank line>
 *     — <key name> base64(4-byte key ID ‖ signature)
 *     …
 */

/** Signature type of plain Ed25519 note signatures (signed-note, "Signature types"). */
export const SIG_TYPE_ED25519 = 0x01;

/**
 * The most signature lines a note may carry. signed-note ("Format") requires accepting at least 16;
 * sumdb note `Open` refuses more than 100, which is what this takes as well.
 */
export const MAX_NOTE_SIGNATURES = 100;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Checks a verifier of notes: the key's name and ID, and the signature check itself. */
export interface NoteVerifier {
  readonly name: string;
  /** The 32-bit key ID. */
  readonly keyId: number;
  /** Does `signature` (the bytes after the key ID) sign `text` (the note text, final newline included)? */
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

/** Makes note signatures. */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** The signature bytes (without the key ID) over the note text. */
  sign(text: Uint8Array): Uint8Array;
}

/** One signature line of a note. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** The signature bytes after the 4-byte key ID. */
  readonly signature: Uint8Array;
}

/** key ID = SHA-256(key name ‖ 0x0A ‖ signature type ‖ public key)[:4], big-endian (signed-note, "Signatures"). */
export function keyId(name: string, type: number, publicKey: Uint8Array): number {
  const d = createHash('sha256')
    .update(name)
    .update('\n')
    .update(Uint8Array.of(type))
    .update(publicKey)
    .digest();
  return d.readUInt32BE(0);
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/** `<name>+<hex key ID>+<base64(type ‖ public key)>` (signed-note, "Verifier keys"). */
export function formatVerifierKey(name: string, type: number, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) logFail('LOG_INVALID_ARGUMENT', 'invalid key name', { name });
  return `${name}+${hex8(keyId(name, type, publicKey))}+${toBase64(Uint8Array.of(type, ...publicKey))}`;
}

/** A vkey's parts. */
export interface VerifierKey {
  readonly name: string;
  readonly keyId: number;
  readonly type: number;
  readonly publicKey: Uint8Array;
}

/** Splits `text` at its first `count` plus signs (base64 may itself contain plus signs). */
function cutPlus(text: string, count: number): string[] | undefined {
  const parts: string[] = [];
  let rest = text;
  for (let i = 0; i < count; i++) {
    const at = rest.indexOf('+');
    if (at < 0) return undefined;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  return parts;
}

function parseKeyId(hex: string, code: LogErrorCode): number {
  // "the fixed length lowercase Base 16 encoding" (signed-note, "Conventions").
  if (!/^[0-9a-f]{8}$/.test(hex)) logFail(code, 'key ID is not 8 lowercase hex digits', { hex });
  return Number.parseInt(hex, 16);
}

/**
 * Parses a vkey of any signature type and checks that its key ID is the one its name, type and key
 * give (signed-note: the recommended key ID, which every type assigned there uses).
 */
export function parseVerifierKey(vkey: string): VerifierKey {
  const parts = cutPlus(vkey, 2);
  if (parts === undefined) logFail('LOG_KEY_MALFORMED', 'vkey is not <name>+<hex id>+<base64 key>');
  const [name, hex, b64] = parts as [string, string, string];
  if (!isValidKeyName(name)) logFail('LOG_KEY_MALFORMED', 'vkey has an invalid key name', { name });
  const id = parseKeyId(hex, 'LOG_KEY_MALFORMED');
  const key = parseBase64(b64, 'LOG_KEY_MALFORMED', 'vkey key');
  if (key.length < 2) logFail('LOG_KEY_MALFORMED', 'vkey has no key material', { name });
  const type = key[0]!;
  const publicKey = key.slice(1);
  if (keyId(name, type, publicKey) !== id)
    logFail('LOG_KEY_MALFORMED', 'vkey key ID does not match its name and key', { name, keyId: hex });
  return { name, keyId: id, type, publicKey };
}

/** Ed25519 verification as RFC 8032 states it (no ZIP-215 leniency). */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** A verifier for an Ed25519 (type 0x01) vkey. */
export function ed25519Verifier(vkey: string): NoteVerifier {
  const k = parseVerifierKey(vkey);
  if (k.type !== SIG_TYPE_ED25519)
    logFail('LOG_KEY_MALFORMED', `vkey has signature type ${k.type}, not Ed25519 (1)`, { name: k.name });
  if (k.publicKey.length !== 32)
    logFail('LOG_KEY_MALFORMED', 'Ed25519 vkey key is not 32 bytes', { name: k.name });
  const { name, keyId: id, publicKey } = k;
  return { name, keyId: id, verify: (text, sig) => ed25519Verify(publicKey, text, sig) };
}

/** The parts of signer key text `PRIVATE+KEY+<name>+<hex id>+base64(type ‖ private key)` (sumdb note). */
export interface SignerKey {
  readonly name: string;
  readonly keyId: number;
  readonly type: number;
  /** The 32-byte Ed25519 seed for types 0x01 and 0x04. */
  readonly privateKey: Uint8Array;
}

/** Parses signer key text; the key ID is not checked here (it depends on the type's public key). */
export function parseSignerKey(skey: string): SignerKey {
  const parts = cutPlus(skey, 4);
  if (parts === undefined || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY')
    logFail('LOG_KEY_MALFORMED', 'signer key is not PRIVATE+KEY+<name>+<hex id>+<base64 key>');
  const [, , name, hex, b64] = parts as [string, string, string, string, string];
  if (!isValidKeyName(name)) logFail('LOG_KEY_MALFORMED', 'signer key has an invalid key name');
  const id = parseKeyId(hex, 'LOG_KEY_MALFORMED');
  const key = parseBase64(b64, 'LOG_KEY_MALFORMED', 'signer key');
  if (key.length < 2) logFail('LOG_KEY_MALFORMED', 'signer key has no key material', { name });
  return { name, keyId: id, type: key[0]!, privateKey: key.slice(1) };
}

/** Signer key text for an Ed25519 seed of a given signature type (0x01 notes, 0x04 cosignatures). */
export function formatSignerKey(name: string, type: number, seed: Uint8Array): string {
  if (!isValidKeyName(name)) logFail('LOG_INVALID_ARGUMENT', 'invalid key name', { name });
  if (seed.length !== 32) logFail('LOG_INVALID_ARGUMENT', 'Ed25519 seed must be 32 bytes');
  const id = keyId(name, type, ed25519.getPublicKey(seed));
  return `PRIVATE+KEY+${name}+${hex8(id)}+${toBase64(Uint8Array.of(type, ...seed))}`;
}

/** The seed and public key of an Ed25519 signer key of `type`, its key ID checked. */
export function ed25519SignerKey(
  skey: string,
  type: number,
): { name: string; keyId: number; seed: Uint8Array; publicKey: Uint8Array } {
  const k = parseSignerKey(skey);
  if (k.type !== type)
    logFail('LOG_KEY_MALFORMED', `signer key has signature type ${k.type}, not ${type}`, { name: k.name });
  if (k.privateKey.length !== 32)
    logFail('LOG_KEY_MALFORMED', 'Ed25519 signer key seed is not 32 bytes', { name: k.name });
  const publicKey = ed25519.getPublicKey(k.privateKey);
  if (keyId(k.name, type, publicKey) !== k.keyId)
    logFail('LOG_KEY_MALFORMED', 'signer key ID does not match its name and key', { name: k.name });
  return { name: k.name, keyId: k.keyId, seed: k.privateKey, publicKey };
}

/** A signer for an Ed25519 (type 0x01) signer key, with the matching vkey. */
export function ed25519Signer(skey: string): NoteSigner & { readonly verifierKey: string } {
  const { name, keyId: id, seed, publicKey } = ed25519SignerKey(skey, SIG_TYPE_ED25519);
  return {
    name,
    keyId: id,
    verifierKey: formatVerifierKey(name, SIG_TYPE_ED25519, publicKey),
    sign: (text) => ed25519.sign(text, seed),
  };
}

/** A new Ed25519 note key: its signer key text and vkey. `seed` is for tests; by default it is random. */
export function generateEd25519Key(
  name: string,
  seed: Uint8Array = new Uint8Array(randomBytes(32)),
): { signerKey: string; verifierKey: string } {
  return {
    signerKey: formatSignerKey(name, SIG_TYPE_ED25519, seed),
    verifierKey: formatVerifierKey(name, SIG_TYPE_ED25519, ed25519.getPublicKey(seed)),
  };
}

// --- the note text ---

const SIG_PREFIX = '\u2014 '; // em dash, space (signed-note, "Format")

/**
 * Checks note text rules (signed-note, "Format"): valid UTF-8, no ASCII control character but the
 * newline. UTF-8 continuation and lead bytes are ≥ 0x80, so a byte scan finds every control character.
 */
function checkNoteBytes(bytes: Uint8Array, what: string): string {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 0x20 && b !== 0x0a)
      logFail('LOG_NOTE_MALFORMED', `${what} holds control character 0x${b.toString(16).padStart(2, '0')}`, {
        offset: i,
      });
  }
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return logFail('LOG_NOTE_MALFORMED', `${what} is not valid UTF-8`);
  }
}

function toBytes(msg: string | Uint8Array, what: string): Uint8Array {
  if (typeof msg !== 'string') return msg;
  if (/\p{Cs}/u.test(msg))
    logFail('LOG_NOTE_MALFORMED', `${what} holds a lone surrogate (not encodable as UTF-8)`);
  return utf8.encode(msg);
}

/** A note split into its text and signature lines, nothing verified. */
export interface ParsedNote {
  /** The note text, final newline included. */
  readonly text: string;
  /** The exact bytes of the text, as signed. */
  readonly textBytes: Uint8Array;
  readonly signatures: readonly NoteSignature[];
}

/**
 * Parses a signed note (signed-note, "Format"): the text is everything up to the last blank line, then
 * one or more lines `— <name> <base64>`. Refused with LOG_NOTE_MALFORMED: invalid UTF-8, a control
 * character, no blank line, no signature line, a last line without newline, a line that is not a
 * signature, an invalid key name, non-canonical base64, a signature shorter than key ID plus one
 * byte, more than MAX_NOTE_SIGNATURES lines, and two lines for the same key name and ID (sumdb note
 * skips such repeats; here they are refused).
 */
export function parseNote(msg: string | Uint8Array): ParsedNote {
  const bytes = toBytes(msg, 'note');
  const all = checkNoteBytes(bytes, 'note');
  const split = all.lastIndexOf('\n\n');
  if (split < 0) logFail('LOG_NOTE_MALFORMED', 'note has no blank line before its signatures');
  const text = all.slice(0, split + 1);
  const block = all.slice(split + 2);
  if (block.length === 0) logFail('LOG_NOTE_MALFORMED', 'note has no signature lines');
  if (!block.endsWith('\n')) logFail('LOG_NOTE_MALFORMED', 'note does not end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES)
    logFail('LOG_NOTE_MALFORMED', `note has ${lines.length} signatures, more than ${MAX_NOTE_SIGNATURES}`);
  const seen = new Set<string>();
  const signatures = lines.map((line, i) => {
    const sig = parseSignatureLine(line, i);
    const k = `${sig.name}+${hex8(sig.keyId)}`;
    if (seen.has(k)) logFail('LOG_NOTE_MALFORMED', `note has two signatures by key ${k}`, { line: i });
    seen.add(k);
    return sig;
  });
  return { text, textBytes: utf8.encode(text), signatures };
}

/** One `— <name> <base64(key ID ‖ signature)>` line, without its newline. */
export function parseSignatureLine(line: string, index = 0): NoteSignature {
  if (!line.startsWith(SIG_PREFIX))
    logFail('LOG_NOTE_MALFORMED', 'signature line does not start with an em dash and a space', {
      line: index,
    });
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0)
    logFail('LOG_NOTE_MALFORMED', 'signature line has no space after the key name', { line: index });
  const name = rest.slice(0, space);
  if (!isValidKeyName(name))
    logFail('LOG_NOTE_MALFORMED', 'signature line has an invalid key name', { line: index });
  const raw = parseBase64(rest.slice(space + 1), 'LOG_NOTE_MALFORMED', `signature ${index}`);
  if (raw.length < 5)
    logFail('LOG_NOTE_MALFORMED', 'signature is shorter than a key ID and one byte', { line: index, name });
  const keyIdValue = ((raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!) >>> 0;
  return { name, keyId: keyIdValue, signature: raw.slice(4) };
}

/** `— <name> <base64(key ID ‖ signature)>` with its newline. */
export function formatSignatureLine(sig: NoteSignature): string {
  if (!isValidKeyName(sig.name)) logFail('LOG_INVALID_ARGUMENT', 'invalid key name', { name: sig.name });
  const raw = new Uint8Array(4 + sig.signature.length);
  new DataView(raw.buffer).setUint32(0, sig.keyId);
  raw.set(sig.signature, 4);
  return `${SIG_PREFIX}${sig.name} ${toBase64(raw)}\n`;
}

/** Checks that `text` can be a note's text: valid, ends with a newline. Returns its bytes. */
export function checkNoteText(text: string): Uint8Array {
  const bytes = toBytes(text, 'note text');
  checkNoteBytes(bytes, 'note text');
  if (!text.endsWith('\n')) logFail('LOG_NOTE_MALFORMED', 'note text does not end with a newline');
  return bytes;
}

/** The signed note: `text`, a blank line, and the signature lines in order. */
export function formatNote(text: string, signatures: readonly NoteSignature[]): string {
  checkNoteText(text);
  if (signatures.length === 0) logFail('LOG_INVALID_ARGUMENT', 'a signed note needs at least one signature');
  return `${text}\n${signatures.map(formatSignatureLine).join('')}`;
}

/** Signs `text` with each signer (signed-note: each signature is over the note text). */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  const bytes = checkNoteText(text);
  return formatNote(
    text,
    signers.map((s) => ({ name: s.name, keyId: s.keyId, signature: s.sign(bytes) })),
  );
}

/** A note whose text a known key has signed. */
export interface OpenedNote extends ParsedNote {
  /** Signatures by known keys, each verified. */
  readonly verified: readonly NoteSignature[];
  /** Signatures by keys not in the verifier list, not checked (signed-note: MUST be ignored). */
  readonly unverified: readonly NoteSignature[];
}

/**
 * Parses and verifies a note (signed-note, "Signatures"). A signature whose name and key ID match a
 * known verifier must verify, or the whole note is refused (LOG_NOTE_SIGNATURE_INVALID); signatures
 * by other keys are ignored; with no verified signature the note is LOG_NOTE_UNVERIFIED. Two
 * verifiers with the same name and key ID are a usage error.
 */
export function openNote(msg: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const known = new Map<string, NoteVerifier>();
  for (const v of verifiers) {
    const k = `${v.name}+${hex8(v.keyId)}`;
    if (known.has(k)) logFail('LOG_INVALID_ARGUMENT', `two verifiers for key ${k}`);
    known.set(k, v);
  }
  const note = parseNote(msg);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  for (const sig of note.signatures) {
    const k = `${sig.name}+${hex8(sig.keyId)}`;
    const v = known.get(k);
    if (v === undefined) {
      unverified.push(sig);
      continue;
    }
    if (!v.verify(note.textBytes, sig.signature))
      logFail('LOG_NOTE_SIGNATURE_INVALID', `signature by key ${k} does not verify`, { key: k });
    verified.push(sig);
  }
  if (verified.length === 0)
    logFail('LOG_NOTE_UNVERIFIED', 'note has no signature by a known key', {
      signers: unverified.map((s) => `${s.name}+${hex8(s.keyId)}`),
    });
  return { ...note, verified, unverified };
}

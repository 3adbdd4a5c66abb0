import { type CosignatureVerifier, cosignatureVerifier, type WitnessPolicy } from './cosignature.js';
import { isLogError, logFail } from './errors.js';
import { ed25519Verifier, type NoteVerifier, parseVerifierKey } from './note.js';
import type { QuorumRule } from './quorum.js';

/*
 * c2sp.org/tlog-policy: which logs and witnesses a verifier knows, and the quorum of cosignatures a
 * checkpoint needs. One item per line, items separated by spaces and tabs ("Structure"):
 *
 *     # comment
 *     log <vkey> [<url>]
 *     witness <name> <vkey> [<url>]
 *     group <name> all|any|<k> <name>...
 *     quorum <name>|none
 *
 * Parsed strictly, every refusal LOG_POLICY_MALFORMED with the line number: log vkeys of type 0x01
 * and witness vkeys of type 0x04 ("Public key representation"); no two logs or two witnesses with the
 * same public key, whatever their key names; witness and group names in one namespace, `none`
 * reserved; a group or the quorum names only what earlier lines defined, and each name is a member
 * at most once in the whole file ("Defining a witness group"); 1 ≤ k ≤ n; exactly one quorum line.
 * Octets allowed are tab, newline, 0x20–0x7E and 0x80–0xFF ("Character set"); non-ASCII must be
 * UTF-8 here (the spec strongly recommends it; names are then compared as code points, which for
 * UTF-8 is the same as comparing octets). Every line, the last included, ends in a newline.
 */

/** Limits on a policy's size ("Implementation limits" recommends supporting at least 32 of each). */
export const MAX_POLICY_LOGS = 256;
export const MAX_POLICY_WITNESSES = 256;
export const MAX_POLICY_GROUPS = 256;
/** A policy file larger than this is refused before it is parsed. */
export const MAX_POLICY_BYTES = 1 << 20;

export interface PolicyLog {
  readonly verifier: NoteVerifier;
  readonly vkey: string;
  readonly url?: string;
}

export interface PolicyWitness {
  /** The policy's own name for the witness (not its key name). */
  readonly name: string;
  readonly verifier: CosignatureVerifier;
  readonly url?: string;
}

export interface TlogPolicy {
  readonly logs: readonly PolicyLog[];
  readonly witnesses: readonly PolicyWitness[];
  readonly quorum: QuorumRule;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function parseTlogPolicy(input: string | Uint8Array): TlogPolicy {
  const fail = (line: number, message: string): never =>
    logFail('LOG_POLICY_MALFORMED', line > 0 ? `policy line ${line}: ${message}` : message, { line });
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    if (input.length > MAX_POLICY_BYTES) fail(0, `policy is larger than ${MAX_POLICY_BYTES} bytes`);
    try {
      text = utf8.decode(input);
    } catch {
      return fail(0, 'policy is not valid UTF-8');
    }
  }
  if (text.length > MAX_POLICY_BYTES) fail(0, `policy is larger than ${MAX_POLICY_BYTES} bytes`);
  if (/\p{Cs}/u.test(text)) fail(0, 'policy holds a lone surrogate');
  if (text.length > 0 && !text.endsWith('\n')) fail(0, 'the last policy line does not end with a newline');

  const logs: PolicyLog[] = [];
  const witnesses: PolicyWitness[] = [];
  /** Witness and group names → their rule ("Witnesses and groups share a single namespace"). */
  const names = new Map<string, QuorumRule>();
  const usedAsMember = new Set<string>();
  let groups = 0;
  let quorum: QuorumRule | undefined;
  const lines = text.length === 0 ? [] : text.slice(0, -1).split('\n');
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const logKeys = new Set<string>();
  const witnessKeys = new Set<string>();

  for (const [i, raw] of lines.entries()) {
    const n = i + 1;
    for (const ch of raw) {
      const c = ch.codePointAt(0)!;
      if ((c < 0x20 && c !== 0x09) || c === 0x7f)
        fail(n, `control character 0x${c.toString(16)} is not allowed`);
    }
    const items = raw.split(/[ \t]+/).filter((s) => s.length > 0);
    const [keyword, ...args] = items;
    if (keyword === undefined || keyword.startsWith('#')) continue;
    const vkeyOf = <T>(v: string, make: (v: string) => T, what: string): T => {
      try {
        return make(v);
      } catch (e) {
        if (isLogError(e, 'LOG_KEY_MALFORMED')) return fail(n, `${what} key: ${e.message}`);
        throw e;
      }
    };
    const newName = (name: string) => {
      if (name === 'none') fail(n, '`none` is a predefined name');
      if (names.has(name)) fail(n, `the name ${name} is defined twice`);
    };
    const lookUp = (name: string): QuorumRule => {
      const r = names.get(name);
      if (r === undefined) return fail(n, `${name} is not defined on an earlier line`);
      return r;
    };
    switch (keyword) {
      case 'log': {
        if (args.length < 1 || args.length > 2) fail(n, 'expected: log <vkey> [<url>]');
        const [vkey, url] = args as [string, string | undefined];
        const verifier = vkeyOf(vkey, ed25519Verifier, 'log');
        const pub = hex(parseVerifierKey(vkey).publicKey);
        if (logKeys.has(pub)) fail(n, 'a log with this public key is listed already');
        logKeys.add(pub);
        if (logs.length >= MAX_POLICY_LOGS) fail(n, `more than ${MAX_POLICY_LOGS} logs`);
        logs.push({ verifier, vkey, ...(url !== undefined && { url }) });
        continue;
      }
      case 'witness': {
        if (args.length < 2 || args.length > 3) fail(n, 'expected: witness <name> <vkey> [<url>]');
        const [name, vkey, url] = args as [string, string, string | undefined];
        newName(name);
        const verifier = vkeyOf(vkey, cosignatureVerifier, 'witness');
        const pub = hex(verifier.publicKey);
        if (witnessKeys.has(pub)) fail(n, 'a witness with this public key is listed already');
        witnessKeys.add(pub);
        if (witnesses.length >= MAX_POLICY_WITNESSES) fail(n, `more than ${MAX_POLICY_WITNESSES} witnesses`);
        witnesses.push({ name, verifier, ...(url !== undefined && { url }) });
        names.set(name, { kind: 'witness', name, keyName: verifier.name, keyId: verifier.keyId });
        continue;
      }
      case 'group': {
        if (args.length < 3) fail(n, 'expected: group <name> all|any|<k> <name>...');
        const [name, k, ...memberNames] = args as [string, string, ...string[]];
        newName(name);
        const members = memberNames.map((m) => {
          if (m === 'none') fail(n, '`none` cannot be a group member');
          const r = lookUp(m);
          if (usedAsMember.has(m)) fail(n, `${m} is a group member already`);
          usedAsMember.add(m);
          return r;
        });
        let threshold: number;
        if (k === 'all') threshold = members.length;
        else if (k === 'any') threshold = 1;
        else if (/^[1-9][0-9]{0,8}$/.test(k)) threshold = Number(k);
        else threshold = fail(n, `the threshold ${k} is not all, any or a decimal number`);
        if (threshold > members.length)
          fail(n, `the threshold ${threshold} is more than the ${members.length} members`);
        if (++groups > MAX_POLICY_GROUPS) fail(n, `more than ${MAX_POLICY_GROUPS} groups`);
        names.set(name, { kind: 'group', name, threshold, members });
        continue;
      }
      case 'quorum': {
        if (args.length !== 1) fail(n, 'expected: quorum <name>');
        if (quorum !== undefined) fail(n, 'a second quorum line');
        quorum = args[0] === 'none' ? { kind: 'none' } : lookUp(args[0]!);
        continue;
      }
      default:
        fail(n, `unknown keyword ${keyword.slice(0, 40)}`);
    }
  }
  if (quorum === undefined) return fail(0, 'the policy has no quorum line');
  return { logs, witnesses, quorum };
}

/** The policy as `countCosignatures` and the auditor take it. */
export function witnessPolicyOf(p: TlogPolicy): WitnessPolicy {
  return { witnesses: p.witnesses.map((w) => w.verifier), quorum: p.quorum };
}

import { callOutputHash } from '../../protocol/call-records.js';
import { VerifierError } from '../errors.js';

/*
 * The known answers of a lease (docs/witness.md, "Hidden probes"): inputs of the customer's function
 * with the output hash the customer computed at deploy time. The customer hands them to the witnesses
 * of its lease directly (never through the provider's host), so a host that sees only ciphertext
 * cannot tell which calls they are. File format (JSON, version 1):
 *   { "version": 1, "leaseId": "<uint256>", "functionId": "<64 hex>",
 *     "answers": [ { "input": "<base64>", "outputHash": "0x<64 hex>" }, … ] }
 * `outputHash` is the call record's output hash (protocol/call-records.ts, callOutputHash).
 */

export interface KnownAnswer {
  readonly input: Uint8Array;
  /** 0x-hex SHA-256 of the expected output. */
  readonly outputHash: string;
}

export interface KnownAnswers {
  readonly leaseId: bigint;
  /** SHA-256 of the module, hex without prefix (the SDK's FunctionHandle.id). */
  readonly functionId: string;
  readonly answers: readonly KnownAnswer[];
}

/** Most answers one file may hold. */
export const MAX_KNOWN_ANSWERS = 4096;

/** Builds the known answers from inputs and the outputs the customer obtained for them. */
export function knownAnswersOf(
  leaseId: bigint,
  functionId: string,
  pairs: readonly { input: Uint8Array; output: Uint8Array }[],
): KnownAnswers {
  return {
    leaseId,
    functionId,
    answers: pairs.map((p) => ({ input: p.input, outputHash: callOutputHash(p.output) })),
  };
}

export function encodeKnownAnswers(k: KnownAnswers): string {
  return `${JSON.stringify(
    {
      version: 1,
      leaseId: k.leaseId.toString(),
      functionId: k.functionId,
      answers: k.answers.map((a) => ({
        input: Buffer.from(a.input).toString('base64'),
        outputHash: a.outputHash,
      })),
    },
    null,
    2,
  )}\n`;
}

const HASH = /^0x[0-9a-f]{64}$/;
const FN_ID = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Parses a known-answers file; anything unexpected is KNOWN_ANSWERS_MALFORMED. */
export function parseKnownAnswers(text: string): KnownAnswers {
  const bad = (why: string): never => {
    throw new VerifierError('KNOWN_ANSWERS_MALFORMED', `known answers: ${why}`);
  };
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return bad('not JSON');
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) return bad('not an object');
  const o = j as Record<string, unknown>;
  if (o.version !== 1) bad(`unsupported version ${String(o.version)}`);
  if (typeof o.leaseId !== 'string' || !/^(0|[1-9][0-9]{0,77})$/.test(o.leaseId))
    bad('leaseId must be a decimal uint');
  const leaseId = BigInt(o.leaseId as string);
  if (leaseId >= 1n << 256n) bad('leaseId must be a uint256');
  if (typeof o.functionId !== 'string' || !FN_ID.test(o.functionId))
    bad('functionId must be 64 lower-case hex');
  if (!Array.isArray(o.answers) || o.answers.length === 0) bad('answers must be a non-empty array');
  const list = o.answers as unknown[];
  if (list.length > MAX_KNOWN_ANSWERS) bad(`more than ${MAX_KNOWN_ANSWERS} answers`);
  const answers = list.map((a, i): KnownAnswer => {
    if (typeof a !== 'object' || a === null) return bad(`answer ${i} is not an object`);
    const { input, outputHash } = a as Record<string, unknown>;
    if (typeof input !== 'string' || input.length % 4 !== 0 || !BASE64.test(input))
      return bad(`answer ${i}: input must be base64`);
    if (typeof outputHash !== 'string' || !HASH.test(outputHash))
      return bad(`answer ${i}: outputHash must be 0x and 64 lower-case hex`);
    return { input: new Uint8Array(Buffer.from(input, 'base64')), outputHash };
  });
  return { leaseId, functionId: o.functionId as string, answers };
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidOf } from './cid.js';
import { encodeEntry, type LogEntry, MAX_ENTRY_BYTES, parseEntry } from './entry.js';
import { isLogError } from './errors.js';

const session: LogEntry = {
  v: 1,
  kind: 'session-verified',
  time: 1_765_000_000,
  chain: { id: 31337, block: 42 },
  evidence: { sha256: 'ab'.repeat(32), cid: cidOf(new Uint8Array([1, 2, 3])) },
  tee: 'tdx',
  tcbStatus: 'UpToDate',
  measurements: { rtmr0: '00'.repeat(48), mrTd: '11'.repeat(48) },
  reportData: 'cd'.repeat(64),
  enclave: `0x${'12'.repeat(20)}`,
  provider: null,
  executorId: '7',
  leaseId: '3',
  roundId: null,
  policyHash: 'ef'.repeat(32),
  verdict: 'accepted',
  code: null,
};

const verdict: LogEntry = {
  ...session,
  kind: 'verdict-revealed',
  tee: null,
  tcbStatus: null,
  measurements: null,
  reportData: null,
  roundId: '9',
  policyHash: null,
  verdict: 'Unavailable',
};

const text = (e: LogEntry) => new TextDecoder().decode(encodeEntry(e));
const bytes = (s: string) => new TextEncoder().encode(s);

function refused(input: Uint8Array): boolean {
  try {
    parseEntry(input);
    return false;
  } catch (e) {
    return isLogError(e, 'LOG_ENTRY_MALFORMED') || isLogError(e, 'LOG_CID_MALFORMED');
  }
}

describe('log entries', () => {
  it('round-trip, with keys in the documented order and measurements sorted', () => {
    for (const e of [session, verdict]) expect(parseEntry(encodeEntry(e))).toEqual(e);
    const t = text(session);
    expect(
      t.startsWith('{"v":1,"kind":"session-verified","time":1765000000,"chain":{"id":31337,"block":42},'),
    ).toBe(true);
    expect(t.indexOf('"mrTd"')).toBeLessThan(t.indexOf('"rtmr0"'));
    expect(t).not.toMatch(/\s/);
  });

  it('encode sorts measurements whatever order they were given in: one byte string per entry', () => {
    const swapped = { ...session, measurements: { mrTd: '11'.repeat(48), rtmr0: '00'.repeat(48) } };
    expect(text(swapped)).toBe(text(session));
  });

  it('refuses non-canonical spellings of a valid entry: whitespace, key order, escapes, extra keys', () => {
    const t = text(session);
    const variants = [
      t.replace('{"v":1,', '{ "v":1,'),
      `${t}\n`,
      t.replace('"v":1,"kind":"session-verified"', '"kind":"session-verified","v":1'),
      t.replace('"session-verified"', '"session\\u002dverified"'),
      t.replace('"code":null}', '"code":null,"extra":1}'),
      t.replace('"time":1765000000', '"time":1765000000.0'),
      t.replace('"time":1765000000', '"time":1.765e9'),
      t.replace('"chain":{"id":31337,"block":42}', '"chain":{"block":42,"id":31337}'),
      t.replace(
        `"mrTd":"${'11'.repeat(48)}","rtmr0"`,
        `"rtmr0":"${'00'.repeat(48)}","mrTd":"${'11'.repeat(48)}","rtmr0"`,
      ),
    ];
    for (const v of variants) expect(refused(bytes(v)), v.slice(0, 120)).toBe(true);
  });

  it('refuses wrong field values with the field named', () => {
    const cases: [Partial<Record<keyof LogEntry, unknown>>, RegExp][] = [
      [{ v: 2 }, /entry v/],
      [{ kind: 'executor-deleted' }, /entry kind/],
      [{ time: -1 }, /entry time/],
      [{ time: 2 ** 53 }, /entry time/],
      [{ chain: { id: 0, block: 1 } }, /chain.id/],
      [{ evidence: { sha256: 'AB'.repeat(32), cid: session.evidence.cid } }, /evidence.sha256/],
      [{ tee: 'sgx2' }, /entry tee/],
      [{ tee: null }, /tee is required/],
      [{ tcbStatus: 'Revoked' }, /tcbStatus/],
      [{ measurements: { 'mr td': '00' } }, /measurements/],
      [{ measurements: { mrTd: '0' } }, /measurements/],
      [{ reportData: 'cd'.repeat(63) }, /reportData/],
      [{ enclave: `0x${'AB'.repeat(20)}` }, /enclave/],
      [{ executorId: '01' }, /executorId/],
      [{ leaseId: (2n ** 256n).toString() }, /leaseId/],
      [{ verdict: 'Ok' }, /attestation event/],
      [{ code: 'bad code' }, /entry code/],
    ];
    for (const [patch, why] of cases) {
      const e = { ...session, ...patch } as LogEntry;
      expect(() => encodeEntry(e), JSON.stringify(patch)).toThrow(why);
      // The same fields, spelled canonically by hand, are refused by the parser too.
      const raw = JSON.stringify({ ...JSON.parse(text(session)), ...patch });
      expect(refused(bytes(raw)), JSON.stringify(patch)).toBe(true);
    }
    expect(() => encodeEntry({ ...verdict, roundId: null })).toThrow(/roundId/);
    expect(() => encodeEntry({ ...verdict, verdict: 'accepted' })).toThrow(/revealed verdict/);
    expect(() => encodeEntry({ ...session, evidence: { ...session.evidence, cid: 'bafy' } })).toThrow(
      expect.objectContaining({ code: 'LOG_CID_MALFORMED' }),
    );
  });

  it('refuses what is not an entry at all, and entries over 65,535 bytes', () => {
    for (const s of ['', 'null', '[]', '"x"', '{}', '\xff'])
      expect(refused(typeof s === 'string' ? bytes(s) : s)).toBe(true);
    expect(refused(Uint8Array.of(0xff, 0xfe))).toBe(true);
    expect(refused(new Uint8Array(MAX_ENTRY_BYTES + 1))).toBe(true);
  });

  it('never accepts a mutation of a valid entry that is not itself canonical', () => {
    const t = bytes(text(session));
    fc.assert(
      fc.property(fc.nat(t.length - 1), fc.integer({ min: 0, max: 255 }), (i, b) => {
        const m = t.slice();
        m[i] = b;
        let parsed: LogEntry | undefined;
        try {
          parsed = parseEntry(m);
        } catch (e) {
          expect(isLogError(e)).toBe(true);
          return;
        }
        // Whatever parses re-encodes to exactly the mutated bytes.
        expect(Buffer.from(encodeEntry(parsed))).toEqual(Buffer.from(m));
      }),
      { numRuns: 2000 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import { signCheckpoint } from './checkpoint.js';
import { checkQuorum, cosigner, countCosignatures, generateCosignerKey } from './cosignature.js';
import { isLogError } from './errors.js';
import { EMPTY_ROOT } from './hash.js';
import { ed25519Signer, formatSignatureLine, generateEd25519Key } from './note.js';
import { parseTlogPolicy, witnessPolicyOf } from './policy.js';
import { describeQuorum } from './quorum.js';

const log = generateEd25519Key('log.example.test', new Uint8Array(32).fill(1));
const keys = [1, 2, 3, 4, 5, 6].map((i) =>
  generateCosignerKey(`w${i}.example.test`, new Uint8Array(32).fill(10 + i)),
);
const v = (i: number) => keys[i - 1]!.verifierKey;

function malformed(text: string): string {
  try {
    parseTlogPolicy(text);
  } catch (e) {
    expect(isLogError(e, 'LOG_POLICY_MALFORMED'), String(e)).toBe(true);
    return (e as Error).message;
  }
  return expect.unreachable(`accepted:\n${text}`);
}

describe('c2sp.org/tlog-policy', () => {
  // The shape of the spec's example ("Example policy"), with keys.
  const example = `# two operators
log ${log.verifierKey} https://log.example.test/

witness X1 ${v(1)}
witness X2 ${v(2)}
\twitness X3 ${v(3)}   https://w3.example.test/
group X-witnesses 2 X1 X2 X3

witness Y1 ${v(4)}
witness Y2 ${v(5)}
witness Y3 ${v(6)}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
`;

  it("parses the spec example's structure and evaluates its nested quorum", () => {
    const p = parseTlogPolicy(example);
    expect(p.logs).toHaveLength(1);
    expect(p.logs[0]!.url).toBe('https://log.example.test/');
    expect(p.witnesses.map((w) => w.name)).toEqual(['X1', 'X2', 'X3', 'Y1', 'Y2', 'Y3']);
    expect(p.witnesses[2]!.url).toBe('https://w3.example.test/');
    expect(describeQuorum(p.quorum)).toBe('2 of (2 of (X1, X2, X3), 1 of (Y1, Y2, Y3))');
    const text = signCheckpoint({ origin: 'log.example.test', size: 0, root: EMPTY_ROOT, extensions: [] }, [
      ed25519Signer(log.signerKey),
    ]);
    const cosignedBy = (...ws: number[]) =>
      text +
      ws
        .map((i) =>
          formatSignatureLine(
            cosigner(keys[i - 1]!.signerKey).cosign(text.slice(0, text.indexOf('\n\n') + 1), 1),
          ),
        )
        .join('');
    const policy = witnessPolicyOf(p);
    const logKeys = p.logs.map((l) => l.verifier);
    expect(countCosignatures(cosignedBy(1, 2, 4), logKeys, policy).met).toBe(true);
    expect(countCosignatures(cosignedBy(1, 2, 3), logKeys, policy).met).toBe(false);
    expect(countCosignatures(cosignedBy(1, 5, 6), logKeys, policy).met).toBe(false);
    try {
      checkQuorum(cosignedBy(4, 5, 6), logKeys, policy);
      expect.unreachable('quorum met');
    } catch (e) {
      expect(isLogError(e, 'LOG_QUORUM_NOT_MET')).toBe(true);
      expect((e as Error).message).toContain('2 of (2 of (X1, X2, X3), 1 of (Y1, Y2, Y3))');
    }
  });

  it('quorum none, a single witness, and k of n', () => {
    expect(parseTlogPolicy('quorum none\n').quorum).toEqual({ kind: 'none' });
    expect(parseTlogPolicy(`witness a ${v(1)}\nquorum a\n`).quorum).toMatchObject({
      kind: 'witness',
      name: 'a',
    });
    const p = parseTlogPolicy(
      `log ${log.verifierKey}\nwitness a ${v(1)}\nwitness b ${v(2)}\ngroup ab 2 a b\nquorum ab\n`,
    );
    expect(describeQuorum(p.quorum)).toBe('2 of (a, b)');
  });

  it('refuses what the spec does not allow, with the line', () => {
    expect(malformed('')).toContain('no quorum line');
    expect(malformed(`log ${log.verifierKey}\n`)).toContain('no quorum');
    expect(malformed('quorum none')).toContain('newline');
    expect(malformed('quorum none\nquorum none\n')).toContain('line 2');
    expect(malformed('quorum a\n')).toContain('not defined');
    expect(malformed(`quorum a\nwitness a ${v(1)}\n`)).toContain('not defined');
    expect(malformed(`witness none ${v(1)}\nquorum none\n`)).toContain('predefined');
    expect(malformed(`witness a ${v(1)}\nwitness a ${v(2)}\nquorum a\n`)).toContain('defined twice');
    expect(malformed(`witness a ${v(1).replace(/\+[0-9a-f]{8}\+/, '+00000000+')}\nquorum a\n`)).toContain(
      'key ID',
    );
    // The same public key under another name is a duplicate.
    const again = generateCosignerKey('another-name', new Uint8Array(32).fill(11)).verifierKey;
    expect(malformed(`witness a ${v(1)}\nwitness b ${again}\nquorum a\n`)).toContain('public key');
    expect(
      malformed(
        `log ${log.verifierKey}\nlog ${generateEd25519Key('other', new Uint8Array(32).fill(1)).verifierKey}\nquorum none\n`,
      ),
    ).toContain('public key');
    // Key types: a log key of type 0x04, a witness key of type 0x01.
    expect(malformed(`log ${v(1)}\nquorum none\n`)).toContain('log key');
    expect(malformed(`witness a ${log.verifierKey}\nquorum a\n`)).toContain('witness key');
    // Groups: thresholds, members defined before, each name a member once, none not a member.
    const two = `witness a ${v(1)}\nwitness b ${v(2)}\n`;
    expect(malformed(`${two}group g 3 a b\nquorum g\n`)).toContain('more than');
    expect(malformed(`${two}group g 0 a b\nquorum g\n`)).toContain('threshold');
    expect(malformed(`${two}group g 01 a b\nquorum g\n`)).toContain('threshold');
    expect(malformed(`${two}group g all\nquorum g\n`)).toContain('expected');
    expect(malformed(`${two}group g any a a\nquorum g\n`)).toContain('member already');
    expect(malformed(`${two}group g any a\ngroup h any a b\nquorum h\n`)).toContain('member already');
    expect(malformed(`${two}group g any a none\nquorum g\n`)).toContain('none');
    expect(malformed(`${two}group a any b\nquorum a\n`)).toContain('defined twice');
    // Characters, keywords, arity.
    expect(malformed('quorum none\r\n')).toContain('control character');
    expect(malformed('# ok\nquorum\x0bnone\n')).toContain('control character');
    expect(malformed('policy 1\nquorum none\n')).toContain('unknown keyword');
    expect(malformed(`log ${log.verifierKey} https://x # comment\nquorum none\n`)).toContain('expected');
    expect(malformed('quorum none extra\n')).toContain('expected');
    expect(() => parseTlogPolicy(new Uint8Array([0x71, 0xff, 0x0a]))).toThrow(/UTF-8/);
  });

  it('reads comments, blank lines, tabs and UTF-8 names', () => {
    const p = parseTlogPolicy(`  # comment\n\n\twitness\tzeuge-ü ${v(1)}\t\n  quorum zeuge-ü  \n`);
    expect(p.witnesses[0]!.name).toBe('zeuge-ü');
  });
});

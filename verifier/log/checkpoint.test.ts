import { describe, expect, it } from 'vitest';
import {
  formatCheckpoint,
  hasEmptyRootIfEmpty,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from './checkpoint.js';
import { expectCode } from './expect-code.js';
import { EMPTY_ROOT, leafHash } from './hash.js';
import { ed25519Signer, ed25519Verifier, generateEd25519Key, parseNote } from './note.js';

// The example of c2sp.org/tlog-checkpoint (its signer's vkey is not published, so only its form is checked).
const SPEC_TEXT = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
const SPEC_SIG =
  '— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n';

describe('checkpoint text (c2sp.org/tlog-checkpoint)', () => {
  it('parses the spec example and formats it back', () => {
    const c = parseCheckpoint(SPEC_TEXT);
    expect(c.origin).toBe('example.com/behind-the-sofa');
    expect(c.size).toBe(20852163);
    expect(c.root).toHaveLength(32);
    expect(c.extensions).toEqual([]);
    expect(formatCheckpoint(c)).toBe(SPEC_TEXT);
    const note = parseNote(`${SPEC_TEXT}\n${SPEC_SIG}`);
    expect(note.text).toBe(SPEC_TEXT);
    expect(note.signatures[0]!.signature).toHaveLength(64);
  });

  it('formats the sumdb tree note exactly (golang.org/x/mod sumdb/tlog TestFormatTree)', () => {
    const text = formatCheckpoint({
      origin: 'go.sum database tree',
      size: 123456789012,
      root: leafHash(new TextEncoder().encode('hello world')),
      extensions: [],
    });
    expect(text).toBe('go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n');
  });

  it('keeps extension lines', () => {
    const c = parseCheckpoint(`${SPEC_TEXT}ext one\nan other\n`);
    expect(c.extensions).toEqual(['ext one', 'an other']);
    expect(formatCheckpoint(c)).toBe(`${SPEC_TEXT}ext one\nan other\n`);
  });

  it('refuses anything else', () => {
    const root = 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=';
    for (const bad of [
      'example.com/x\n20852163\n', // two lines
      `example.com/x\n20852163\n${root}`, // no final newline
      `\n20852163\n${root}\n`, // empty origin
      `example.com/x\n020852163\n${root}\n`, // leading zero
      `example.com/x\n+20852163\n${root}\n`,
      `example.com/x\n0x13e2c3\n${root}\n`, // sumdb TestParseTree
      `example.com/x\n20852163 \n${root}\n`,
      `example.com/x\n20852163\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBTOOBIG=\n`, // sumdb TestParseTree
      `example.com/x\n20852163\n${root.slice(0, -1)}\n`,
      `example.com/x\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n`, // non-canonical
      `example.com/x\n20852163\n${root}\n\n`, // empty extension line
      `example.com/x\n20852163\n${root}\n\next\n`,
    ])
      expectCode(() => parseCheckpoint(bad), 'LOG_CHECKPOINT_MALFORMED');
    expectCode(() => parseCheckpoint(`example.com/x\n9007199254740992\n${root}\n`), 'LOG_TOO_LARGE');
  });

  it('tells an empty tree with a wrong root', () => {
    expect(hasEmptyRootIfEmpty({ origin: 'o', size: 0, root: EMPTY_ROOT, extensions: [] })).toBe(true);
    expect(hasEmptyRootIfEmpty({ origin: 'o', size: 0, root: new Uint8Array(32), extensions: [] })).toBe(
      false,
    );
  });
});

describe('signed checkpoints', () => {
  const log = generateEd25519Key('defaas.example/log', new Uint8Array(32).fill(1));
  const other = generateEd25519Key('defaas.example/other', new Uint8Array(32).fill(2));
  const c = { origin: 'defaas.example/log', size: 5, root: new Uint8Array(32).fill(9), extensions: [] };

  it('signs and opens with the log key, checking the origin', () => {
    const note = signCheckpoint(c, [ed25519Signer(log.signerKey)]);
    const opened = openCheckpoint(note, [ed25519Verifier(log.verifierKey)], { origin: 'defaas.example/log' });
    expect(opened.checkpoint).toEqual(c);
    expectCode(
      () => openCheckpoint(note, [ed25519Verifier(log.verifierKey)], { origin: 'defaas.example/else' }),
      'LOG_ORIGIN_MISMATCH',
    );
    expectCode(() => openCheckpoint(note, [ed25519Verifier(other.verifierKey)]), 'LOG_NOTE_UNVERIFIED');
  });

  it('does not let another known key stand in for the log', () => {
    const note = signCheckpoint(c, [ed25519Signer(other.signerKey)]);
    expectCode(
      () =>
        openCheckpoint(note, [ed25519Verifier(log.verifierKey)], {
          others: [ed25519Verifier(other.verifierKey)],
        }),
      'LOG_NOTE_UNVERIFIED',
    );
  });

  it('refuses a signed note whose text is not a checkpoint', () => {
    const { signNote } = {
      signNote: (t: string) => signCheckpoint(parseCheckpoint(t), [ed25519Signer(log.signerKey)]),
    };
    const note = signNote('defaas.example/log\n5\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n').replace(
      '\n5\n',
      '\n05\n',
    );
    // Changing the text breaks the signature first: a bad signature by the log key refuses the note.
    expectCode(() => openCheckpoint(note, [ed25519Verifier(log.verifierKey)]), 'LOG_NOTE_SIGNATURE_INVALID');
  });
});

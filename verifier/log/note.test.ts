import { describe, expect, it } from 'vitest';
import { isLogError } from './errors.js';
import { expectCode } from './expect-code.js';
import {
  ed25519Signer,
  ed25519Verifier,
  formatNote,
  generateEd25519Key,
  keyId,
  openNote,
  parseNote,
  parseVerifierKey,
  signNote,
} from './note.js';

// Vectors of golang.org/x/mod sumdb/note/note_test.go (TestNewVerifier, TestNewSigner, TestSign, TestOpen).
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG =
  '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG =
  '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

// The example of c2sp.org/signed-note, "Verifier keys".
const SPEC_VKEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const SPEC_NOTE =
  'This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';

describe('signed-note keys', () => {
  it('parses the sumdb and spec vkeys, their key IDs recomputed', () => {
    expect(parseVerifierKey(PETER_VKEY)).toMatchObject({ name: 'PeterNeumann', keyId: 0xc74f20a3, type: 1 });
    expect(parseVerifierKey(ENOCH_VKEY).keyId).toBe(0xaf0cfe78);
    const spec = parseVerifierKey(SPEC_VKEY);
    expect(spec.keyId).toBe(0x530d903a);
    expect(keyId('example.com/foo', 1, spec.publicKey)).toBe(0x530d903a);
  });

  it('the sumdb signer key gives the sumdb vkey', () => {
    expect(ed25519Signer(PETER_SKEY).verifierKey).toBe(PETER_VKEY);
  });

  it('refuses every substring and every one-byte change of a vkey (as sumdb TestNewVerifier)', () => {
    const b = PETER_VKEY;
    for (let i = 0; i <= b.length; i++)
      for (let j = i + 1; j <= b.length; j++)
        if (i !== 0 || j !== b.length) expectCode(() => ed25519Verifier(b.slice(i, j)), 'LOG_KEY_MALFORMED');
    for (let i = 0; i < b.length; i++) {
      const changed = b.slice(0, i) + String.fromCharCode(b.charCodeAt(i) + 1) + b.slice(i + 1);
      expectCode(() => ed25519Verifier(changed), 'LOG_KEY_MALFORMED');
    }
    // Wrong key length and unknown algorithm, each with a matching key hash (sumdb TestNewVerifier).
    expectCode(
      () => ed25519Verifier('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='),
      'LOG_KEY_MALFORMED',
    );
    expectCode(
      () => ed25519Verifier('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'),
      'LOG_KEY_MALFORMED',
    );
    expectCode(() => ed25519Verifier(PETER_VKEY.replace('c74f20a3', 'C74F20A3')), 'LOG_KEY_MALFORMED');
  });

  it('refuses every substring and every one-byte change of a signer key (as sumdb TestNewSigner)', () => {
    const b = PETER_SKEY;
    for (let i = 0; i <= b.length; i++)
      for (let j = i + 1; j <= b.length; j++)
        if (i !== 0 || j !== b.length) expectCode(() => ed25519Signer(b.slice(i, j)), 'LOG_KEY_MALFORMED');
    for (let i = 0; i < b.length; i++) {
      const changed = b.slice(0, i) + String.fromCharCode(b.charCodeAt(i) + 1) + b.slice(i + 1);
      expectCode(() => ed25519Signer(changed), 'LOG_KEY_MALFORMED');
    }
  });

  it('generates keys whose signer and verifier agree', () => {
    const { signerKey, verifierKey } = generateEd25519Key('defaas.example/log');
    const signer = ed25519Signer(signerKey);
    expect(signer.verifierKey).toBe(verifierKey);
    const note = signNote('hello\n', [signer]);
    expect(openNote(note, [ed25519Verifier(verifierKey)]).verified).toHaveLength(1);
    expect(generateEd25519Key('a', new Uint8Array(32))).toEqual(generateEd25519Key('a', new Uint8Array(32)));
    expectCode(() => generateEd25519Key('bad name'), 'LOG_INVALID_ARGUMENT');
    expectCode(() => generateEd25519Key('bad+name'), 'LOG_INVALID_ARGUMENT');
  });
});

describe('signed notes', () => {
  const peter = ed25519Verifier(PETER_VKEY);
  const enoch = ed25519Verifier(ENOCH_VKEY);

  it('reproduces the sumdb signature exactly (TestSign)', () => {
    expect(signNote(TEXT, [ed25519Signer(PETER_SKEY)])).toBe(`${TEXT}\n${PETER_SIG}`);
  });

  it('verifies the spec example', () => {
    const n = openNote(SPEC_NOTE, [ed25519Verifier(SPEC_VKEY)]);
    expect(n.text).toBe('This is an example message.\n');
    expect(n.verified.map((s) => s.name)).toEqual(['example.com/foo']);
  });

  it('verifies known keys and ignores unknown ones (TestOpen)', () => {
    const both = `${TEXT}\n${PETER_SIG}${ENOCH_SIG}`;
    const one = openNote(both, [peter]);
    expect(one.text).toBe(TEXT);
    expect(one.verified.map((s) => s.keyId)).toEqual([0xc74f20a3]);
    expect(one.unverified.map((s) => s.keyId)).toEqual([0xaf0cfe78]);
    const two = openNote(both, [peter, enoch]);
    expect(two.verified.map((s) => s.name)).toEqual(['PeterNeumann', 'EnochRoot']);
    expect(two.unverified).toEqual([]);
    expectCode(() => openNote(both, []), 'LOG_NOTE_UNVERIFIED');
    expectCode(() => openNote(`${TEXT}\n${ENOCH_SIG}`, [enoch, peter, enoch]), 'LOG_INVALID_ARGUMENT');
  });

  it('ignores a signature that shares only the name or only the ID of a known key', () => {
    const otherName = PETER_SIG.replace('PeterNeumann', 'PeterNeuman');
    expectCode(() => openNote(`${TEXT}\n${otherName}`, [peter]), 'LOG_NOTE_UNVERIFIED');
    const { signerKey } = generateEd25519Key('PeterNeumann');
    const sameName = signNote(TEXT, [ed25519Signer(signerKey)]);
    expectCode(() => openNote(sameName, [peter]), 'LOG_NOTE_UNVERIFIED');
  });

  it('refuses the whole note when a known key signature fails', () => {
    const bad = `${TEXT}\n${PETER_SIG.slice(0, 60)}ABCD${PETER_SIG.slice(60)}`;
    expectCode(() => openNote(bad, [peter]), 'LOG_NOTE_SIGNATURE_INVALID');
    const otherText = `${TEXT.replace('answer', 'Answer')}\n${PETER_SIG}${ENOCH_SIG}`;
    expectCode(() => openNote(otherText, [enoch]), 'LOG_NOTE_SIGNATURE_INVALID');
    // The text ends at the last blank line, so an extra blank line is part of the signed text.
    expectCode(() => openNote(`${TEXT}\n\n${PETER_SIG}`, [peter]), 'LOG_NOTE_SIGNATURE_INVALID');
  });

  it('refuses malformed notes (sumdb TestOpen bad messages, and more)', () => {
    const bad = [
      TEXT,
      `${TEXT}\n`,
      `${TEXT}\n${PETER_SIG.slice(0, -1)}`,
      `\x01${TEXT}\n${PETER_SIG}`,
      `${TEXT.replace('you', 'you\t')}\n${PETER_SIG}`,
      `${TEXT.replace('you', 'you\r')}\n${PETER_SIG}`,
      `${TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=`,
      `${TEXT}\n${PETER_SIG}Unexpected line.\n`,
      `${TEXT}\n${PETER_SIG.repeat(101)}`,
      `${TEXT}\n${PETER_SIG}${PETER_SIG}`, // a repeated line (sumdb skips repeats; refused here)
      `${TEXT}\n${ENOCH_SIG}${ENOCH_SIG.replace('rwz+', 'rwz-')}`,
      `${TEXT}\n${PETER_SIG.replace('AM=\n', 'AN=\n')}`, // non-canonical base64
      `${TEXT}\n${PETER_SIG.replace('AM=\n', 'AM\n')}`, // unpadded base64
      `${TEXT}\n— PeterNeumann AAAA\n`, // shorter than ID + 1 byte
      `${TEXT}\n${PETER_SIG.replace('— ', '-- ')}`,
      `${TEXT}\n${PETER_SIG.replace('— ', '—  ')}`,
      `${TEXT}\n${PETER_SIG.replace('Neumann ', 'Neumann  ')}`,
      `${TEXT}\n${PETER_SIG}\n`,
      `${TEXT}\n— Peter+Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
    ];
    bad.forEach((msg, i) => {
      try {
        openNote(msg, [peter]);
      } catch (e) {
        expect([i, isLogError(e) ? e.code : e]).toEqual([i, 'LOG_NOTE_MALFORMED']);
        return;
      }
      expect.unreachable(`bad note ${i} accepted`);
    });
    const invalidUtf8 = Uint8Array.of(0xff, ...new TextEncoder().encode(`${TEXT}\n${PETER_SIG}`));
    expectCode(() => openNote(invalidUtf8, [peter]), 'LOG_NOTE_MALFORMED');
    expectCode(() => openNote(`\ud800${TEXT}\n${PETER_SIG}`, [peter]), 'LOG_NOTE_MALFORMED');
  });

  it('accepts 100 signatures, text with empty lines, and non-ASCII text', () => {
    const signers = Array.from({ length: 100 }, (_, i) =>
      ed25519Signer(generateEd25519Key(`k${i}`, new Uint8Array(32).fill(i)).signerKey),
    );
    const text = 'ed è subito sera.\n\nline after an empty line\n';
    const note = signNote(text, signers);
    const v = ed25519Verifier(signers[42]!.verifierKey);
    const opened = openNote(note, [v]);
    expect(opened.text).toBe(text);
    expect(opened.unverified).toHaveLength(99);
    expect(parseNote(note).signatures).toHaveLength(100);
  });

  it('refuses to sign text that is not note text', () => {
    const s = ed25519Signer(PETER_SKEY);
    expectCode(() => signNote('abc', [s]), 'LOG_NOTE_MALFORMED');
    expectCode(() => signNote('a\x00b\n', [s]), 'LOG_NOTE_MALFORMED');
    expectCode(() => formatNote(TEXT, []), 'LOG_INVALID_ARGUMENT');
  });
});

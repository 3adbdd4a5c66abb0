import { describe, expect, it } from 'vitest';
import { signCheckpoint } from './checkpoint.js';
import {
  checkQuorum,
  cosignatureVerifier,
  cosignedMessage,
  cosigner,
  countCosignatures,
  generateCosignerKey,
  parseCosignature,
} from './cosignature.js';
import { expectCode } from './expect-code.js';
import {
  ed25519Signer,
  ed25519Verifier,
  formatSignatureLine,
  generateEd25519Key,
  keyId,
  parseSignatureLine,
} from './note.js';

const SPEC_TEXT = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';

describe('c2sp.org/tlog-cosignature', () => {
  it('the spec example: its signed message, and the timestamp inside its cosignature line', () => {
    expect(new TextDecoder().decode(cosignedMessage(SPEC_TEXT, 1679315147))).toBe(
      'cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n',
    );
    const line = parseSignatureLine(
      '— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==',
    );
    expect(line.keyId).toBe(0x8d66cf3f);
    expect(parseCosignature(line.signature).timestamp).toBe(1679315147);
  });

  it('cosigns and verifies, key type 0x04 and its key ID', () => {
    const k = generateCosignerKey('witness.example/w1', new Uint8Array(32).fill(3));
    const w = cosigner(k.signerKey);
    expect(w.verifierKey).toBe(k.verifierKey);
    const v = cosignatureVerifier(k.verifierKey);
    expect(v.keyId).toBe(keyId('witness.example/w1', 0x04, v.publicKey));
    expect(v.keyId).not.toBe(keyId('witness.example/w1', 0x01, v.publicKey));
    const sig = w.cosign(SPEC_TEXT, 1700000000);
    expect(sig.signature).toHaveLength(72);
    expect(parseCosignature(sig.signature).timestamp).toBe(1700000000);
    const text = new TextEncoder().encode(SPEC_TEXT);
    expect(v.verify(text, sig.signature)).toBe(true);
    // The timestamp is signed.
    const moved = sig.signature.slice();
    moved[7]! ^= 1;
    expect(v.verify(text, moved)).toBe(false);
    expect(v.verify(new TextEncoder().encode(SPEC_TEXT.replace('20852163', '20852164')), sig.signature)).toBe(
      false,
    );
    expect(v.verify(text, sig.signature.subarray(0, 71))).toBe(false);
    // A type 0x01 key is not a cosigner key, and the other way round.
    expectCode(() => cosignatureVerifier(generateEd25519Key('x').verifierKey), 'LOG_KEY_MALFORMED');
    expectCode(() => ed25519Verifier(k.verifierKey), 'LOG_KEY_MALFORMED');
    expectCode(() => cosigner(generateEd25519Key('x').signerKey), 'LOG_KEY_MALFORMED');
  });

  it('refuses malformed cosignatures', () => {
    expectCode(() => parseCosignature(new Uint8Array(71)), 'LOG_COSIGNATURE_MALFORMED');
    const big = new Uint8Array(72);
    big[0] = 0x80;
    expectCode(() => parseCosignature(big), 'LOG_COSIGNATURE_MALFORMED');
    big[0] = 0x7f;
    expectCode(() => parseCosignature(big), 'LOG_TOO_LARGE');
  });
});

describe('witness quorum', () => {
  const log = generateEd25519Key('defaas.example/log', new Uint8Array(32).fill(1));
  const logKeys = [ed25519Verifier(log.verifierKey)];
  const keys = [4, 5, 6].map((i) => generateCosignerKey(`witness.example/w${i}`, new Uint8Array(32).fill(i)));
  const witnesses = keys.map((k) => cosignatureVerifier(k.verifierKey));
  const cosigners = keys.map((k) => cosigner(k.signerKey));
  const checkpoint = {
    origin: 'defaas.example/log',
    size: 9,
    root: new Uint8Array(32).fill(7),
    extensions: [],
  };
  const signed = signCheckpoint(checkpoint, [ed25519Signer(log.signerKey)]);
  const text = signed.slice(0, signed.indexOf('\n\n') + 1);
  const withCosignatures = (lines: string[]) => signed + lines.join('');
  const line = (i: number, t = 1000) => formatSignatureLine(cosigners[i]!.cosign(text, t));

  it('counts valid cosignatures of the policy and ignores unknown ones', () => {
    const stranger = cosigner(generateCosignerKey('stranger.example').signerKey);
    const note = withCosignatures([line(0), line(2), formatSignatureLine(stranger.cosign(text, 1000))]);
    const r = countCosignatures(note, logKeys, { witnesses, threshold: 2 });
    expect(r.met).toBe(true);
    expect(r.cosigners.map((c) => c.name)).toEqual(['witness.example/w4', 'witness.example/w6']);
    expect(r.checkpoint).toEqual(checkpoint);
    expect(checkQuorum(note, logKeys, { witnesses, threshold: 2 }).met).toBe(true);
    expectCode(() => checkQuorum(note, logKeys, { witnesses, threshold: 3 }), 'LOG_QUORUM_NOT_MET');
  });

  it('refuses the note when a known witness cosignature does not verify', () => {
    const other = cosigners[1]!.cosign(text.replace('\n9\n', '\n10\n'), 1000);
    const note = withCosignatures([line(0), formatSignatureLine(other)]);
    expectCode(
      () => countCosignatures(note, logKeys, { witnesses, threshold: 1 }),
      'LOG_COSIGNATURE_INVALID',
    );
  });

  it('a witness cosignature does not replace the log signature', () => {
    const onlyWitness = `${text}\n${line(0)}`;
    expectCode(
      () => countCosignatures(onlyWitness, logKeys, { witnesses, threshold: 1 }),
      'LOG_NOTE_UNVERIFIED',
    );
  });

  it('does not count cosignatures from the future when given a clock', () => {
    const note = withCosignatures([line(0, 1000), line(1, 2000)]);
    const r = countCosignatures(
      note,
      logKeys,
      { witnesses, threshold: 2 },
      { now: 1500, maxFutureSeconds: 60 },
    );
    expect(r.cosigners.map((c) => c.timestamp)).toEqual([1000]);
    expect(r.notCounted.map((c) => c.reason)).toEqual(['timestamp in the future']);
    expect(r.met).toBe(false);
    expectCode(() => countCosignatures(note, logKeys, { witnesses, threshold: 4 }), 'LOG_INVALID_ARGUMENT');
  });
});

import { describe, expect, it } from 'vitest';
import { signCheckpoint } from './checkpoint.js';
import { cosignatureVerifier, cosigner, generateCosignerKey } from './cosignature.js';
import { expectCode } from './expect-code.js';
import { type Hash, leafHash } from './hash.js';
import { inclusionProof, MerkleFrontier, type NodeId } from './merkle.js';
import { ed25519Signer, ed25519Verifier, formatSignatureLine, generateEd25519Key } from './note.js';
import { checkTlogProof, formatTlogProof, parseTlogProof } from './proof.js';

// The example of c2sp.org/tlog-proof ("[...]" abbreviates its signatures, so its checkpoint is not verifiable).
const SPEC_PROOF = `c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

— example.com/fancylog hI2DJw[...]1roloI=
`;

describe('c2sp.org/tlog-proof@v1 files', () => {
  it('parses the spec example and formats it back', () => {
    const p = parseTlogProof(SPEC_PROOF);
    expect(p.index).toBe(73894);
    expect(new TextDecoder().decode(p.extra)).toMatch(/^age-v1\.2\.1-darwin-arm64\.tar\.gz/);
    expect(p.proof).toHaveLength(5);
    expect(p.checkpoint.startsWith('example.com/fancylog\n109482\n')).toBe(true);
    expect(formatTlogProof(p)).toBe(SPEC_PROOF);
  });

  it('refuses other forms', () => {
    const hash = 'gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=';
    const cp = 'example.com/fancylog\n1\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n— a AAAAAAA=\n';
    for (const bad of [
      `c2sp.org/tlog-proof@v2\nindex 0\n\n${cp}`,
      `index 0\n\n${cp}`,
      `c2sp.org/tlog-proof@v1\nindex 01\n\n${cp}`,
      `c2sp.org/tlog-proof@v1\nindex -1\n\n${cp}`,
      `c2sp.org/tlog-proof@v1\nextra \nindex 0\n\n${cp}`,
      `c2sp.org/tlog-proof@v1\nextra YQ\nindex 0\n\n${cp}`,
      `c2sp.org/tlog-proof@v1\nindex 0\nextra YQ==\n\n${cp}`,
      `c2sp.org/tlog-proof@v1\nindex 0\n${hash.slice(4)}\n\n${cp}`,
      `c2sp.org/tlog-proof@v1\nindex 0\n${hash}\n`,
      `c2sp.org/tlog-proof@v1\nindex 0\n\n`,
      `c2sp.org/tlog-proof@v1\nindex 0\n${`${hash}\n`.repeat(64)}\n${cp}`,
    ])
      expectCode(() => parseTlogProof(bad), 'LOG_PROOF_MALFORMED');
  });
});

describe('verifying a proof offline', () => {
  const log = generateEd25519Key('defaas.example/log', new Uint8Array(32).fill(1));
  const keys = [5, 6, 7].map((i) => generateCosignerKey(`w${i}.example`, new Uint8Array(32).fill(i)));
  const witnesses = keys.map((k) => cosignatureVerifier(k.verifierKey));
  const entries = Array.from({ length: 1000 }, (_, i) => new TextEncoder().encode(`attestation ${i}`));
  const nodes = new Map<string, Hash>();
  const f = new MerkleFrontier();
  for (const e of entries) for (const n of f.append(leafHash(e))) nodes.set(`${n.level}/${n.index}`, n.hash);
  const reader = {
    readHashes: (ids: readonly NodeId[]) => ids.map((id) => nodes.get(`${id.level}/${id.index}`)!),
  };
  const signed = signCheckpoint(
    { origin: 'defaas.example/log', size: 1000, root: f.root(), extensions: [] },
    [ed25519Signer(log.signerKey)],
  );
  const text = signed.slice(0, signed.indexOf('\n\n') + 1);
  const cosigned =
    signed +
    keys
      .slice(0, 2)
      .map((k) => formatSignatureLine(cosigner(k.signerKey).cosign(text, 1_700_000_000)))
      .join('');
  const options = {
    origin: 'defaas.example/log',
    logKeys: [ed25519Verifier(log.verifierKey)],
    witnesses: { witnesses, threshold: 2 },
  };

  it('verifies with the log key and a 2-of-3 witness quorum', async () => {
    const file = formatTlogProof({
      index: 613,
      proof: await inclusionProof(613, 1000, reader),
      checkpoint: cosigned,
    });
    const v = checkTlogProof(file, leafHash(entries[613]!), options);
    expect(v.checkpoint.size).toBe(1000);
    expect(v.cosigners.map((c) => c.name)).toEqual(['w5.example', 'w6.example']);
    expect(
      checkTlogProof(file, leafHash(entries[613]!), { origin: options.origin, logKeys: options.logKeys })
        .cosigners,
    ).toEqual([]);
  });

  it('refuses another entry, another index, a short quorum, another origin, another log key', async () => {
    const proof = await inclusionProof(613, 1000, reader);
    const file = formatTlogProof({ index: 613, proof, checkpoint: cosigned });
    expectCode(() => checkTlogProof(file, leafHash(entries[612]!), options), 'LOG_PROOF_INVALID');
    expectCode(
      () =>
        checkTlogProof(
          formatTlogProof({ index: 612, proof, checkpoint: cosigned }),
          leafHash(entries[613]!),
          options,
        ),
      'LOG_PROOF_INVALID',
    );
    expectCode(
      () =>
        checkTlogProof(
          formatTlogProof({ index: 1000, proof, checkpoint: cosigned }),
          leafHash(entries[613]!),
          options,
        ),
      'LOG_PROOF_INVALID',
    );
    expectCode(
      () =>
        checkTlogProof(file, leafHash(entries[613]!), { ...options, witnesses: { witnesses, threshold: 3 } }),
      'LOG_QUORUM_NOT_MET',
    );
    expectCode(
      () => checkTlogProof(file, leafHash(entries[613]!), { ...options, origin: 'else' }),
      'LOG_ORIGIN_MISMATCH',
    );
    const stranger = generateEd25519Key('defaas.example/log');
    expectCode(
      () =>
        checkTlogProof(file, leafHash(entries[613]!), {
          ...options,
          logKeys: [ed25519Verifier(stranger.verifierKey)],
        }),
      'LOG_NOTE_UNVERIFIED',
    );
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { signCheckpoint } from './checkpoint.js';
import { cosignatureVerifier, cosigner, generateCosignerKey } from './cosignature.js';
import { startCosigning } from './cosigning.js';
import { isLogError } from './errors.js';
import { leafHash } from './hash.js';
import { MerkleFrontier } from './merkle.js';
import { ed25519Signer, formatSignatureLine, generateEd25519Key, parseNote } from './note.js';
import { formatCosignatureResponse } from './witness.js';

const ORIGIN = 'log.example.test/cosigning';
const logKey = generateEd25519Key(ORIGIN, new Uint8Array(32).fill(31));
const wKey = generateCosignerKey('w.example.test', new Uint8Array(32).fill(32));
const otherKey = generateCosignerKey('w.example.test', new Uint8Array(32).fill(33));

const f = new MerkleFrontier();
for (let i = 0; i < 5; i++) f.append(leafHash(Uint8Array.of(i)));
const text = signCheckpoint({ origin: ORIGIN, size: 5, root: f.root(), extensions: [] }, [
  ed25519Signer(logKey.signerKey),
]);
const current = () => ({
  checkpoint: { size: 5, root: f.root(), text },
  hashes: { readHashes: () => [] },
});

let servers: Server[] = [];
afterEach(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  servers = [];
});

/** A stand-in witness answering each request with the next of `answers`; records the bodies. */
async function fakeWitness(answers: Array<[number, string]>): Promise<{ url: string; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    bodies.push(body);
    const [status, out] = answers[Math.min(bodies.length - 1, answers.length - 1)]!;
    res.writeHead(status, { 'Content-Type': status === 409 ? 'text/x.tlog.size' : 'text/plain' });
    res.end(out);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies };
}

const noteText = parseNote(text).text;
const goodLine = formatCosignatureResponse([cosigner(wKey.signerKey).cosign(noteText, 1_700_000_000)]);

describe('the log asking witnesses for cosignatures', () => {
  it('keeps only a valid cosignature by the configured key, appended after the log signature', async () => {
    const stranger = formatSignatureLine(
      cosigner(generateCosignerKey('x.example.test').signerKey).cosign(noteText, 1),
    );
    const w = await fakeWitness([[200, stranger + goodLine]]);
    const events: Record<string, unknown>[] = [];
    const c = startCosigning({
      witnesses: [{ url: w.url, verifier: cosignatureVerifier(wKey.verifierKey) }],
      current,
      log: (e) => events.push(e),
    });
    await c.cosignNow();
    expect(c.cosignedText()).toBe(text + goodLine);
    expect(w.bodies).toEqual([`old 0\n\n${text}`]);
    // Asked again for the same checkpoint: nothing is sent.
    await c.cosignNow();
    expect(w.bodies).toHaveLength(1);
    await c.stop();
  });

  it('a cosignature by another key of the same name, or none, is not kept', async () => {
    const forged = formatCosignatureResponse([cosigner(otherKey.signerKey).cosign(noteText, 1)]);
    for (const answer of [forged, 'not a signature\n', '']) {
      const w = await fakeWitness([[200, answer]]);
      const events: Record<string, unknown>[] = [];
      const c = startCosigning({
        witnesses: [{ url: w.url, verifier: cosignatureVerifier(wKey.verifierKey) }],
        current,
        log: (e) => events.push(e),
      });
      await c.cosignNow();
      expect(c.cosignedText()).toBe(text);
      expect(events.map((e) => e.event)).toEqual(['witness-bad-response']);
      await c.stop();
    }
  });

  it('reports a witness that is ahead of the log, a fork, an unreachable witness and other statuses', async () => {
    const cases: Array<[Array<[number, string]>, string]> = [
      [[[409, '9\n']], 'witness-ahead'],
      [
        [
          [409, '5\n'],
          [409, '5\n'],
        ],
        'witness-fork',
      ],
      [[[409, '05\n']], 'witness-bad-response'],
      [[[422, 'no\n']], 'witness-inconsistent'],
      [[[503, 'busy\n']], 'witness-refused'],
    ];
    for (const [answers, event] of cases) {
      const w = await fakeWitness(answers);
      const events: Record<string, unknown>[] = [];
      const c = startCosigning({
        witnesses: [{ url: w.url, verifier: cosignatureVerifier(wKey.verifierKey) }],
        current,
        log: (e) => events.push(e),
      });
      await c.cosignNow();
      expect(
        events.map((e) => e.event),
        event,
      ).toEqual([event]);
      expect(c.cosignedText()).toBe(text);
      expect(c.status()[0]!.error).toBeDefined();
      await c.stop();
    }
    const events: Record<string, unknown>[] = [];
    const gone = startCosigning({
      witnesses: [{ url: 'http://127.0.0.1:1', verifier: cosignatureVerifier(wKey.verifierKey) }],
      current,
      log: (e) => events.push(e),
    });
    await gone.cosignNow();
    expect(events.map((e) => e.event)).toEqual(['witness-unavailable']);
    await gone.stop();
  });

  it('refuses a witness key configured twice', () => {
    const v = cosignatureVerifier(wKey.verifierKey);
    try {
      startCosigning({
        witnesses: [
          { url: 'http://a', verifier: v },
          { url: 'http://b', verifier: v },
        ],
        current,
      });
      expect.unreachable('accepted');
    } catch (e) {
      expect(isLogError(e, 'LOG_INVALID_ARGUMENT')).toBe(true);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { signCheckpoint } from './checkpoint.js';
import { checkQuorum, cosignatureVerifier, cosigner, generateCosignerKey } from './cosignature.js';
import { isLogError, type LogErrorCode } from './errors.js';
import { EMPTY_ROOT, type Hash, leafHash } from './hash.js';
import { consistencyProof, MerkleFrontier, type NodeId } from './merkle.js';
import { ed25519Signer, ed25519Verifier, generateEd25519Key } from './note.js';
import {
  type AddCheckpointRequest,
  addCheckpoint,
  addCheckpointStatus,
  formatAddCheckpointRequest,
  formatConflictBody,
  parseAddCheckpointRequest,
  parseConflictBody,
  parseCosignatureResponse,
  type WitnessLogState,
  witnessCheckpointPath,
} from './witness.js';

function expectCode(f: () => unknown, code: LogErrorCode): LogErrorCode {
  try {
    f();
  } catch (e) {
    expect(isLogError(e) ? e.code : e).toBe(code);
    return code;
  }
  return expect.unreachable(`expected ${code}`);
}

// The request example of c2sp.org/tlog-witness, "add-checkpoint".
const SPEC_REQUEST = `old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
`;

describe('tlog-witness bodies', () => {
  it('parses the spec request and formats it back', () => {
    const r = parseAddCheckpointRequest(SPEC_REQUEST);
    expect(r.oldSize).toBe(20852014);
    expect(r.proof).toHaveLength(4);
    expect(r.checkpoint.startsWith('example.com/behind-the-sofa\n20852163\n')).toBe(true);
    expect(formatAddCheckpointRequest(r)).toBe(SPEC_REQUEST);
  });

  it('refuses malformed requests, responses and conflict bodies', () => {
    const cp = SPEC_REQUEST.slice(SPEC_REQUEST.indexOf('\n\n') + 2);
    for (const bad of [
      `old 01\n\n${cp}`,
      `old\n\n${cp}`,
      `new 1\n\n${cp}`,
      `old 1\nAAAA\n\n${cp}`,
      `old 1\n${'PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n'.repeat(64)}\n${cp}`,
      'old 1\n',
    ])
      expectCode(() => parseAddCheckpointRequest(bad), 'LOG_WITNESS_REQUEST_MALFORMED');
    expectCode(() => parseCosignatureResponse('— w AAAAAAA='), 'LOG_WITNESS_REQUEST_MALFORMED');
    expectCode(() => parseCosignatureResponse('hello\n'), 'LOG_WITNESS_REQUEST_MALFORMED');
    expect(parseConflictBody(formatConflictBody(42))).toBe(42);
    expectCode(() => parseConflictBody('042\n'), 'LOG_WITNESS_REQUEST_MALFORMED');
  });

  it('the monitoring path is the hex SHA-256 of the origin', () => {
    expect(witnessCheckpointPath('example.com/behind-the-sofa')).toMatch(/^[0-9a-f]{64}\/checkpoint$/);
  });
});

describe('a witness cosigning a growing log', () => {
  const logKey = generateEd25519Key('defaas.example/log', new Uint8Array(32).fill(1));
  const witnessKey = generateCosignerKey('witness.example/w1', new Uint8Array(32).fill(2));
  const w = cosigner(witnessKey.signerKey);
  const f = new MerkleFrontier();
  const nodes = new Map<string, Hash>();
  const roots: Hash[] = [EMPTY_ROOT];
  for (let i = 0; i < 600; i++) {
    for (const n of f.append(leafHash(Uint8Array.of(i & 0xff, i >> 8))))
      nodes.set(`${n.level}/${n.index}`, n.hash);
    roots.push(f.root());
  }
  const reader = {
    readHashes: (ids: readonly NodeId[]) => ids.map((id) => nodes.get(`${id.level}/${id.index}`)!),
  };
  const checkpointAt = (size: number, root = roots[size]!) =>
    signCheckpoint({ origin: 'defaas.example/log', size, root, extensions: [] }, [
      ed25519Signer(logKey.signerKey),
    ]);

  let state: WitnessLogState | undefined;
  const submit = (request: AddCheckpointRequest, now = 1_700_000_000) => {
    const r = addCheckpoint({
      request: parseAddCheckpointRequest(formatAddCheckpointRequest(request)),
      logKeys: (origin) =>
        origin === 'defaas.example/log' ? [ed25519Verifier(logKey.verifierKey)] : undefined,
      latest: () => state,
      cosigner: w,
      now,
    });
    state = r.newState;
    return r;
  };
  const refusal = (request: AddCheckpointRequest, code: LogErrorCode): number => {
    try {
      submit(request);
    } catch (e) {
      expect(isLogError(e) ? e.code : e).toBe(code);
      return addCheckpointStatus(e);
    }
    return expect.unreachable(`expected ${code}`);
  };

  it('cosigns from size 0, then along consistency proofs; the cosignature verifies in the checkpoint', async () => {
    const first = submit({ oldSize: 0, proof: [], checkpoint: checkpointAt(10) });
    expect(state?.size).toBe(10);
    const cosigned = checkpointAt(10) + first.body;
    const q = checkQuorum(cosigned, [ed25519Verifier(logKey.verifierKey)], {
      witnesses: [cosignatureVerifier(witnessKey.verifierKey)],
      threshold: 1,
    });
    expect(q.cosigners).toEqual([{ name: 'witness.example/w1', keyId: w.keyId, timestamp: 1_700_000_000 }]);
    expect(parseCosignatureResponse(first.body)).toHaveLength(1);
    submit({ oldSize: 10, proof: await consistencyProof(10, 300, reader), checkpoint: checkpointAt(300) });
    submit({ oldSize: 300, proof: [], checkpoint: checkpointAt(300) });
    expect(state?.size).toBe(300);
  });

  it('refuses with the statuses of the spec', async () => {
    state = { size: 300, root: roots[300]! };
    const good = await consistencyProof(300, 512, reader);
    const other = signCheckpoint({ origin: 'other.example/log', size: 5, root: roots[5]!, extensions: [] }, [
      ed25519Signer(logKey.signerKey),
    ]);
    expect(refusal({ oldSize: 0, proof: [], checkpoint: other }, 'LOG_WITNESS_UNKNOWN_ORIGIN')).toBe(404);
    const stranger = generateEd25519Key('defaas.example/log');
    const forged = signCheckpoint(
      { origin: 'defaas.example/log', size: 512, root: roots[512]!, extensions: [] },
      [ed25519Signer(stranger.signerKey)],
    );
    expect(refusal({ oldSize: 300, proof: good, checkpoint: forged }, 'LOG_NOTE_UNVERIFIED')).toBe(403);
    expect(
      refusal({ oldSize: 513, proof: good, checkpoint: checkpointAt(512) }, 'LOG_WITNESS_REQUEST_MALFORMED'),
    ).toBe(400);
    expect(
      refusal({ oldSize: 200, proof: good, checkpoint: checkpointAt(512) }, 'LOG_WITNESS_CONFLICT'),
    ).toBe(409);
    const bad = good.map((h, i) => (i === 1 ? leafHash(h) : h));
    expect(refusal({ oldSize: 300, proof: bad, checkpoint: checkpointAt(512) }, 'LOG_INCONSISTENT')).toBe(
      422,
    );
    expect(
      refusal({ oldSize: 300, proof: good, checkpoint: checkpointAt(512, roots[511]) }, 'LOG_INCONSISTENT'),
    ).toBe(422);
    // Another tree of the size last cosigned: 409, like a stale old size, with that size.
    expect(
      refusal({ oldSize: 300, proof: [], checkpoint: checkpointAt(300, roots[299]) }, 'LOG_WITNESS_FORK'),
    ).toBe(409);
    expect(
      refusal({ oldSize: 300, proof: [good[0]!], checkpoint: checkpointAt(300) }, 'LOG_INCONSISTENT'),
    ).toBe(422);
    expect(state?.size).toBe(300);
    submit({ oldSize: 300, proof: good, checkpoint: checkpointAt(512) });
    expect(state?.size).toBe(512);
    try {
      submit({ oldSize: 300, proof: good, checkpoint: checkpointAt(512) });
      expect.unreachable('a replayed request was cosigned');
    } catch (e) {
      expect(isLogError(e, 'LOG_WITNESS_CONFLICT') && e.info.size).toBe(512);
    }
    state = undefined;
    expect(
      refusal({ oldSize: 0, proof: [good[0]!], checkpoint: checkpointAt(512) }, 'LOG_INCONSISTENT'),
    ).toBe(422);
    expect(
      refusal({ oldSize: 0, proof: [], checkpoint: checkpointAt(0, roots[1]) }, 'LOG_INCONSISTENT'),
    ).toBe(422);
  });
});

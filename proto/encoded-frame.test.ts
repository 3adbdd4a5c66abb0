import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodedSealedFrame, loadProtos, requestParts, responseParts, sessionCodec } from './load.js';

/** Frames built with their encoding serialize to exactly the generic encoder's bytes. */
describe('encodedSealedFrame', () => {
  const svc = loadProtos().executor.defaas.executor.v1.Executor.service;

  it('matches the generic encoding for requests and responses, and decodes back', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 40 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.uint8Array({ maxLength: 600 }),
        (id, seq, ct) => {
          const f = encodedSealedFrame(id, seq, ct.length, (out, at) => out.set(ct, at));
          const generic = svc.Invoke.requestSerialize({ ...f });
          expect(svc.Invoke.requestSerialize(f).equals(generic)).toBe(true);
          expect(svc.Settle.responseSerialize(f).equals(generic)).toBe(true);
          const back = svc.Invoke.requestDeserialize(generic);
          expect(back.seq).toBe(seq.toString());
          expect(Buffer.from(back.ciphertext).equals(Buffer.from(ct))).toBe(true);
          expect(Buffer.from(back.sessionId).equals(Buffer.from(id))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('encodes a frame changed after it was built from its fields', () => {
    const f = encodedSealedFrame(new Uint8Array(16), 7n, 3, (out, at) => out.set([1, 2, 3], at));
    f.seq = '8';
    f.ciphertext = Buffer.from([9]);
    const back = svc.Invoke.requestDeserialize(svc.Invoke.requestSerialize(f));
    expect(back.seq).toBe('8');
    expect([...back.ciphertext]).toEqual([9]);
  });
});

describe('requestParts / responseParts', () => {
  const codec = sessionCodec();
  const join = (p: { parts: readonly Uint8Array[]; length: number }) => {
    const b = Buffer.concat(p.parts.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength)));
    expect(b.length).toBe(p.length);
    return b;
  };

  it('decode to the same message as the generic encoding, payload kept as the caller’s buffer', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 70_000 }),
        fc.boolean(),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (payload, withVoucher, nonce) => {
          const input = Buffer.from(payload);
          const req = {
            invoke: {
              leaseId: '123456789012345678901234567890',
              client: `0x${'ab'.repeat(20)}`,
              nonce: nonce.toString(),
              functionId: Buffer.alloc(32, 7),
              input,
              ...(withVoucher && {
                voucher: {
                  leaseId: '1',
                  firstNonce: nonce.toString(),
                  lastNonce: nonce.toString(),
                  requestHead: Buffer.alloc(32, 1),
                  cumulativeAmount: '5',
                  deadline: '99',
                  signature: Buffer.alloc(65, 2),
                },
              }),
            },
          };
          const rp = requestParts(codec, req);
          if (input.length >= 16 * 1024) expect(rp.parts[rp.parts.length - 1]).toBe(input);
          expect(codec.decodeRequest(join(rp))).toEqual(codec.decodeRequest(codec.encodeRequest(req)));
          const res = {
            invoke: {
              output: input,
              record: {
                nonce: nonce.toString(),
                functionHash: Buffer.alloc(32, 3),
                inputHash: Buffer.alloc(32, 4),
                outputHash: Buffer.alloc(32, 5),
                usage: '17',
                price: '0',
              },
            },
          };
          const sp = responseParts(codec, res);
          expect(codec.decodeResponse(join(sp))).toEqual(codec.decodeResponse(codec.encodeResponse(res)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('splits a large payload off without copying it', () => {
    const input = Buffer.alloc(200_000, 9);
    const req = { invoke: { leaseId: '1', client: `0x${'ab'.repeat(20)}`, nonce: '3', input } };
    const rp = requestParts(codec, req);
    expect(rp.parts).toHaveLength(2);
    expect(rp.parts[1]).toBe(input);
    expect(codec.decodeRequest(join(rp))).toEqual(codec.decodeRequest(codec.encodeRequest(req)));
    const res = { invoke: { output: input } };
    const sp = responseParts(codec, res);
    expect(sp.parts[1]).toBe(input);
    expect(codec.decodeResponse(join(sp))).toEqual(codec.decodeResponse(codec.encodeResponse(res)));
  });

  it('leaves other messages to the generic encoder', () => {
    const req = { sync: { leaseId: '1', client: `0x${'00'.repeat(20)}` } };
    expect(join(requestParts(codec, req)).equals(codec.encodeRequest(req))).toBe(true);
    const res = { error: { code: 'X', message: 'y', infoJson: '{}' } };
    expect(join(responseParts(codec, res)).equals(codec.encodeResponse(res))).toBe(true);
  });
});

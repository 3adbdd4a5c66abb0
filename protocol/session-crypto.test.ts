import { randomBytes } from 'node:crypto';
import { recoverAddress, Signature, Wallet, ZeroAddress } from 'ethers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../attestation/bytes.js';
import { FrameCipher } from './frame-cipher.js';
import { deriveSessionKeys } from './keys.js';
import { ReplayWindow } from './replay-window.js';
import { addressOfPrivateKey, recoverDigestSigner, signDigest } from './secp256k1.js';
import { recoverVoucherSigner, signVoucher } from './settlement.js';
import { bindingHash, type HandshakeFields, transcriptHash } from './transcript.js';
import { eip712Domain, VOUCHER_TYPES, type Voucher } from './typed-data.js';
import { generateX25519, x25519 } from './x25519.js';

const rnd = (n: number) => new Uint8Array(randomBytes(n));

describe('replay window', () => {
  it('matches a naive reference on random sequences', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.integer({ min: 0, max: 64 }), { maxLength: 200 }),
        (size, seqs) => {
          const w = new ReplayWindow(size);
          const seen = new Set<number>();
          let hi = -1;
          for (const s of seqs) {
            const want = s > hi ? 'ok' : s <= hi - size ? 'out-of-window' : seen.has(s) ? 'replayed' : 'ok';
            expect(w.check(BigInt(s))).toBe(want);
            if (want === 'ok') {
              w.accept(BigInt(s));
              seen.add(s);
              hi = Math.max(hi, s);
            }
          }
        },
      ),
    );
  });
});

describe('frame cipher', () => {
  it('opens only the exact frame: key, session, sequence number and direction bound', () => {
    const key = rnd(32);
    const id = rnd(16);
    const c = new FrameCipher(key, 'c2s');
    const ct = c.seal(id, 5n, new TextEncoder().encode('call'));
    expect(new TextDecoder().decode(c.open(id, 5n, ct)!)).toBe('call');
    expect(c.open(id, 6n, ct)).toBeNull();
    expect(c.open(rnd(16), 5n, ct)).toBeNull();
    expect(new FrameCipher(key, 's2c').open(id, 5n, ct)).toBeNull();
    const t = Buffer.from(ct);
    t[t.length - 1]! ^= 1;
    expect(c.open(id, 5n, t)).toBeNull();
    expect(c.open(id, 5n, ct.subarray(0, 10))).toBeNull();
  });

  it('opens in place exactly what open() opens, across 64 KiB steps, and refuses the same frames', () => {
    const key = rnd(32);
    const id = rnd(16);
    const c = new FrameCipher(key, 's2c');
    for (const n of [0, 1, 65_535, 65_536, 200_003]) {
      const plain = rnd(n);
      const ct = c.seal(id, 9n, plain);
      const inPlace = c.openInPlace(id, 9n, Buffer.from(ct));
      expect(inPlace).not.toBeNull();
      expect(Buffer.from(inPlace!).equals(Buffer.from(plain))).toBe(true);
      expect(c.openInPlace(id, 10n, Buffer.from(ct))).toBeNull();
      expect(c.openInPlace(rnd(16), 9n, Buffer.from(ct))).toBeNull();
      expect(new FrameCipher(key, 'c2s').openInPlace(id, 9n, Buffer.from(ct))).toBeNull();
      const t = Buffer.from(ct);
      t[Math.floor(t.length / 2)]! ^= 1;
      expect(c.openInPlace(id, 9n, t)).toBeNull();
    }
    expect(c.openInPlace(id, 9n, Buffer.alloc(10))).toBeNull();
  });
});

describe('handshake crypto', () => {
  const fields = (): HandshakeFields => ({
    version: 1,
    clientEphemeral: rnd(32),
    clientNonce: rnd(32),
    mode: 'normal',
    sessionId: rnd(16),
    serverEphemeral: rnd(32),
    tee: 'simulated',
    identityAddress: `0x${toHex(rnd(20))}`,
    staticX25519: rnd(32),
    terms: {
      leaseId: 7n,
      chainId: 31337n,
      verifyingContract: ZeroAddress,
      pricePerCall: 1n,
      batchMaxCalls: 64,
      batchMaxMillis: 100,
      limits: {
        memoryBytes: 1n << 26n,
        wallTimeMs: 5000,
        maxInputBytes: 1n << 20n,
        maxOutputBytes: 1n << 20n,
        maxStderrBytes: 65536n,
        maxMessageBytes: 40n << 20n,
      },
    },
    expiresInMs: 1000n,
  });

  it('changes the transcript hash when any field changes', () => {
    const f = fields();
    const base = toHex(bindingHash(f));
    const variants: HandshakeFields[] = [
      { ...f, mode: 'fresh' },
      { ...f, serverEphemeral: rnd(32) },
      { ...f, clientNonce: rnd(32) },
      { ...f, sessionId: rnd(16) },
      { ...f, tee: 'tdx' },
      { ...f, terms: { ...f.terms, pricePerCall: 2n } },
      { ...f, terms: { ...f.terms, leaseId: 8n } },
      ...(
        ['memoryBytes', 'maxInputBytes', 'maxOutputBytes', 'maxStderrBytes', 'maxMessageBytes'] as const
      ).map((k) => ({
        ...f,
        terms: { ...f.terms, limits: { ...f.terms.limits, [k]: f.terms.limits[k] + 1n } },
      })),
      { ...f, terms: { ...f.terms, limits: { ...f.terms.limits, wallTimeMs: 5001 } } },
      { ...f, expiresInMs: 1001n },
    ];
    for (const v of variants) expect(toHex(bindingHash(v))).not.toBe(base);
    const b = bindingHash(f);
    expect(toHex(transcriptHash(b, rnd(10)))).not.toBe(toHex(transcriptHash(b, rnd(10))));
  });

  it('gives both ends the same directional keys, and nobody without the static key', () => {
    const ce = generateX25519();
    const se = generateX25519();
    const s = generateX25519();
    const th = rnd(32);
    const client = deriveSessionKeys(
      th,
      x25519(ce.privateKey, se.publicKey),
      x25519(ce.privateKey, s.publicKey),
    );
    const server = deriveSessionKeys(
      th,
      x25519(se.privateKey, ce.publicKey),
      x25519(s.privateKey, ce.publicKey),
    );
    expect(toHex(client.c2s)).toBe(toHex(server.c2s));
    expect(toHex(client.s2c)).toBe(toHex(server.s2c));
    expect(toHex(client.c2s)).not.toBe(toHex(client.s2c));
    const relay = generateX25519();
    const forged = deriveSessionKeys(
      th,
      x25519(se.privateKey, ce.publicKey),
      x25519(relay.privateKey, ce.publicKey),
    );
    expect(toHex(forged.c2s)).not.toBe(toHex(client.c2s));
    expect(() => x25519(ce.privateKey, new Uint8Array(32))).toThrow();
  });
});

describe('secp256k1 (tiny-secp256k1) agrees with ethers', () => {
  it('signs digests ethers recovers, and recovers what ethers signs', () => {
    for (let i = 0; i < 20; i++) {
      const w = Wallet.createRandom();
      const priv = new Uint8Array(Buffer.from(w.privateKey.slice(2), 'hex'));
      expect(addressOfPrivateKey(priv)).toBe(w.address.toLowerCase());
      const d = rnd(32);
      const sig = signDigest(priv, d);
      expect(recoverAddress(d, `0x${toHex(sig)}`)).toBe(w.address);
      const theirs = Signature.from(w.signingKey.sign(d)).serialized;
      expect(recoverDigestSigner(d, new Uint8Array(Buffer.from(theirs.slice(2), 'hex')))).toBe(
        w.address.toLowerCase(),
      );
    }
  });

  it('rejects high-s and malformed signatures', () => {
    const priv = rnd(32);
    const d = rnd(32);
    const sig = signDigest(priv, d);
    const n = BigInt('0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
    const s = BigInt(`0x${toHex(sig.subarray(32, 64))}`);
    const high = new Uint8Array(sig);
    high.set(Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex'), 32);
    high[64] = high[64] === 27 ? 28 : 27;
    expect(recoverDigestSigner(d, high)).toBeNull();
    expect(recoverDigestSigner(d, sig.subarray(0, 64))).toBeNull();
    const badV = new Uint8Array(sig);
    badV[64] = 30;
    expect(recoverDigestSigner(d, badV)).toBeNull();
  });

  it('produces the same voucher signature as ethers signTypedData', async () => {
    const w = Wallet.createRandom();
    const domain = { chainId: 31337n, verifyingContract: ZeroAddress };
    const v: Voucher = {
      leaseId: 9n,
      firstNonce: 1n,
      lastNonce: 64n,
      requestHead: `0x${'ab'.repeat(32)}`,
      cumulativeAmount: 640n,
      deadline: 2_000_000_000n,
    };
    const ours = signVoucher(domain, v, new Uint8Array(Buffer.from(w.privateKey.slice(2), 'hex')));
    const theirs = await w.signTypedData(eip712Domain(domain), { Voucher: [...VOUCHER_TYPES.Voucher] }, v);
    expect(`0x${toHex(ours.signature)}`).toBe(theirs);
    expect(recoverVoucherSigner(domain, ours)).toBe(w.address.toLowerCase());
    expect(recoverVoucherSigner({ ...domain, chainId: 1n }, ours)).not.toBe(w.address.toLowerCase());
  });
});

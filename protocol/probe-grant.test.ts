import { getAddress, getBytes, keccak256, toUtf8Bytes } from 'ethers';
import { describe, expect, it } from 'vitest';
import { sessionCodec } from '../proto/load.js';
import { isSessionError } from './errors.js';
import {
  type ProbeGrant,
  parseProbeGrantJson,
  probeGrantDigest,
  probeGrantFromWire,
  probeGrantSigner,
  probeGrantToJson,
  probeGrantToWire,
  signProbeGrant,
} from './probe-grant.js';
import { addressOfPrivateKey } from './secp256k1.js';
import { voucherDigest } from './typed-data.js';

const domain = {
  chainId: 31337n,
  verifyingContract: getAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3'),
};
const grant: ProbeGrant = {
  leaseId: 7n,
  witness: getAddress('0x70997970c51812dc3a010c7d01b50e0d17dc79c8'),
  epoch: 3n,
  maxCalls: 40n,
  maxAmount: 5n * 10n ** 18n,
  expiry: 1_800_000_000n,
};
const customerKey = getBytes(keccak256(toUtf8Bytes('defaas test customer')));

describe('ProbeGrant typed data', () => {
  /*
   * The first entry of `probeGrants` in contracts/test/typed-data.vectors.json, which TypedData.t.sol
   * checks against Settlement.probeGrantDigest and test/contracts-typed-data.test.ts against a deployed
   * Settlement.
   */
  it('matches the vector shared with Solidity', () => {
    const v: ProbeGrant = {
      leaseId: 4200536420n,
      witness: getAddress('0x12be55eb7b01880b0b1833a4b316b62e9bb05cb7'),
      epoch: 9748n,
      maxCalls: 932n,
      maxAmount: 41039596989405921329904114411n,
      expiry: 5095353192n,
    };
    expect(probeGrantDigest(domain, v)).toBe(VECTOR_0_DIGEST);
  });

  it('recovers to the customer for exactly the signed fields, chain and contract', () => {
    const sg = signProbeGrant(customerKey, domain, grant);
    expect(sg.signature).toHaveLength(65);
    const customer = addressOfPrivateKey(customerKey);
    expect(probeGrantSigner(domain, sg)).toBe(customer);
    const changed: ProbeGrant[] = [
      { ...grant, leaseId: 8n },
      { ...grant, witness: getAddress('0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc') },
      { ...grant, epoch: 4n },
      { ...grant, maxCalls: 41n },
      { ...grant, maxAmount: grant.maxAmount + 1n },
      { ...grant, expiry: grant.expiry + 1n },
    ];
    for (const g of changed) {
      expect(probeGrantDigest(domain, g)).not.toBe(probeGrantDigest(domain, grant));
      expect(probeGrantSigner(domain, { grant: g, signature: sg.signature })).not.toBe(customer);
    }
    for (const d of [
      { ...domain, chainId: 1n },
      { ...domain, verifyingContract: getAddress('0x00000000000000000000000000000000000d3fa5') },
    ]) {
      expect(probeGrantSigner(d, sg)).not.toBe(customer);
    }
  });

  it('returns null for a malformed signature', () => {
    expect(probeGrantSigner(domain, { grant, signature: new Uint8Array(64) })).toBeNull();
    expect(probeGrantSigner(domain, { grant, signature: new Uint8Array(65) })).toBeNull();
  });

  it('is not a Voucher digest (different type, same domain)', () => {
    const v = {
      leaseId: grant.leaseId,
      firstNonce: 0n,
      lastNonce: 0n,
      requestHead: `0x${'00'.repeat(32)}`,
      cumulativeAmount: grant.maxAmount,
      deadline: grant.expiry,
    };
    expect(voucherDigest(domain, v)).not.toBe(probeGrantDigest(domain, grant));
  });
});

describe('ProbeGrant JSON', () => {
  const sg = signProbeGrant(customerKey, domain, grant);
  const json = probeGrantToJson(sg);

  it('round-trips through JSON text and value', () => {
    expect(json).toEqual({
      leaseId: '7',
      witness: grant.witness,
      epoch: '3',
      maxCalls: '40',
      maxAmount: '5000000000000000000',
      expiry: '1800000000',
      signature: expect.stringMatching(/^0x[0-9a-f]{130}$/),
    });
    for (const input of [JSON.stringify(json), JSON.parse(JSON.stringify(json))]) {
      const back = parseProbeGrantJson(input);
      expect(back.grant).toEqual({ ...grant, witness: grant.witness.toLowerCase() });
      expect(back.signature).toEqual(sg.signature);
      expect(probeGrantSigner(domain, back)).toBe(addressOfPrivateKey(customerKey));
    }
  });

  it('refuses anything but the exact shape with REQUEST_MALFORMED', () => {
    const { signature: _s, ...noSignature } = json;
    const bad: unknown[] = [
      'not json',
      '[]',
      'null',
      42,
      { ...json, extra: '1' },
      noSignature,
      { ...json, epoch: 3 },
      { ...json, epoch: '4294967296' },
      { ...json, maxCalls: '-1' },
      { ...json, expiry: '18446744073709551616' },
      { ...json, maxAmount: '1e18' },
      { ...json, leaseId: '07' },
      { ...json, witness: '0x1234' },
      { ...json, witness: grant.witness.slice(2) },
      { ...json, signature: json.signature.slice(0, -2) },
      { ...json, signature: `${json.signature}00` },
      { ...json, signature: json.signature.slice(2) },
    ];
    for (const b of bad) {
      let err: unknown;
      try {
        parseProbeGrantJson(b);
      } catch (e) {
        err = e;
      }
      expect(isSessionError(err, 'REQUEST_MALFORMED'), JSON.stringify(b)).toBe(true);
    }
    expect(parseProbeGrantJson({ ...json, epoch: '4294967295' }).grant.epoch).toBe(4294967295n);
  });
});

const VECTOR_0_DIGEST = '0xa4b71664b0f1a8f4da5d79a69e164d56c31ed3c3092dbc12eae310d7fd942f21';

describe('ProbeGrant on the wire (SyncRequest.probe_grant)', () => {
  const sg = signProbeGrant(customerKey, domain, grant);
  const codec = sessionCodec();
  const roundTrip = (probeGrant: Record<string, unknown>) =>
    codec.decodeRequest(codec.encodeRequest({ sync: { leaseId: '7', client: grant.witness, probeGrant } }))
      .sync!.probeGrant!;

  it('round-trips through an encoded SyncRequest, still recovering to the customer', () => {
    const back = probeGrantFromWire(roundTrip({ ...probeGrantToWire(sg) }));
    expect(back.grant).toEqual({ ...grant, witness: grant.witness.toLowerCase() });
    expect(probeGrantSigner(domain, back)).toBe(addressOfPrivateKey(customerKey));
  });

  it('refuses malformed fields with REQUEST_MALFORMED', () => {
    const w = probeGrantToWire(sg);
    const bad: Record<string, unknown>[] = [
      { ...w, signature: Buffer.alloc(64) },
      { ...w, signature: Buffer.alloc(0) },
      { ...w, witness: '0x1234' },
      { ...w, witness: '' },
      { ...w, leaseId: '' },
      { ...w, leaseId: '07' },
      { ...w, maxAmount: '1e18' },
      { ...w, maxAmount: (1n << 256n).toString() },
    ];
    for (const b of bad) {
      let err: unknown;
      try {
        probeGrantFromWire(roundTrip(b));
      } catch (e) {
        err = e;
      }
      expect(isSessionError(err, 'REQUEST_MALFORMED'), JSON.stringify(b)).toBe(true);
    }
    let err: unknown;
    try {
      probeGrantFromWire({ ...roundTrip({ ...w }), epoch: 2 ** 32 });
    } catch (e) {
      err = e;
    }
    expect(isSessionError(err, 'REQUEST_MALFORMED')).toBe(true);
  });
});

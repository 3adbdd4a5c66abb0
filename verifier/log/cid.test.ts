import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkBlob, cidFromDigest, cidOf, parseCid } from './cid.js';
import { isLogError } from './errors.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('CIDv1 raw sha2-256 content addresses', () => {
  it('reproduces the CIDs IPFS gives the empty block and "hello world" (raw leaves)', () => {
    expect(cidOf(new Uint8Array(0))).toBe('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku');
    expect(cidOf(utf8('hello world'))).toBe('bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e');
  });

  it('parses back to the digest for any blob', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (blob) => {
        const digest = createHash('sha256').update(blob).digest();
        const cid = cidOf(blob);
        expect(cid).toBe(cidFromDigest(digest));
        expect(Buffer.from(parseCid(cid))).toEqual(digest);
        checkBlob(cid, blob);
      }),
    );
  });

  it('refuses every other spelling: CIDv0, other codecs, upper case, non-canonical, wrong length', () => {
    const good = cidOf(utf8('hello world'));
    const refused = [
      'QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u', // CIDv0
      'bafyreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e', // dag-cbor codec
      good.toUpperCase(),
      `B${good.slice(1)}`,
      `${good.slice(0, -1)}f`, // last character carries non-zero padding bits
      good.slice(0, -1),
      `${good}a`,
      `${good.slice(0, 10)}1${good.slice(11)}`, // '1' is not base32
      '',
    ];
    for (const cid of refused) {
      let err: unknown;
      try {
        parseCid(cid);
      } catch (e) {
        err = e;
      }
      expect(isLogError(err, 'LOG_CID_MALFORMED'), cid).toBe(true);
    }
  });

  it('a blob that is not the one its CID names is LOG_BLOB_MISMATCH', () => {
    expect(() => checkBlob(cidOf(utf8('hello world')), utf8('hello world!'))).toThrow(
      expect.objectContaining({ code: 'LOG_BLOB_MISMATCH' }),
    );
  });
});

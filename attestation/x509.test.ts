import { describe, expect, it } from 'vitest';
import { readVector, readVectorText, VECTORS } from '../test/vectors.js';
import { toHex } from './bytes.js';
import { DEFAULT_TRUST_ROOTS, INTEL_SGX_ROOT_CA_SPKI_SHA256 } from './roots.js';
import {
  isRevoked,
  normaliseSerial,
  type PemMemo,
  parseCertificate,
  parseCrl,
  parsePemChain,
  spkiSha256,
  verifyChain,
  verifyCrl,
} from './x509.js';

const DIR = 'tdx/collateral/phala-tdx-b0c06f-2025-06';
const now = new Date('2025-07-01T00:00:00Z');
const pins = { now, pinnedRoots: DEFAULT_TRUST_ROOTS.intel };

describe.skipIf(!VECTORS)('X.509 chains and CRLs on real Intel and AMD data', () => {
  const chain = () =>
    parsePemChain(readVectorText(`${DIR}/pck_crl_issuer_chain.pem`), 'PCK CRL issuer chain');

  it('verifies the PCK CA chain to the pinned Intel root, and its CRLs', () => {
    const c = chain();
    verifyChain(c, 'PCK CRL issuer chain', pins);
    const crl = parseCrl(readVector(`${DIR}/pck_crl.der`), 'PCK CRL');
    verifyCrl(crl, c[0]!, 'PCK CRL', now);
    expect(crl.revokedSerials.size).toBe(44);
    const rootCrl = parseCrl(readVector(`${DIR}/root_ca_crl.der`), 'Root CA CRL');
    verifyCrl(rootCrl, c[1]!, 'Root CA CRL', now);
    expect(isRevoked(rootCrl, c[0]!)).toBe(false);
  });

  it('refuses a root that is not pinned, and an AMD ARK for Intel', () => {
    expect(() => verifyChain(chain(), 'x', { now, pinnedRoots: DEFAULT_TRUST_ROOTS.amd.Milan })).toThrow(
      expect.objectContaining({ code: 'ROOT_NOT_TRUSTED' }),
    );
  });

  it('refuses a chain out of order or with a foreign issuer', () => {
    const [ca, root] = chain();
    expect(() => verifyChain([root!, ca!], 'x', pins)).toThrow(
      expect.objectContaining({ code: 'CERT_CHAIN_INVALID' }),
    );
    const ark = parseCertificate(readVectorText('sev-snp/roots/milan/ark.pem'), 'ARK');
    expect(() => verifyChain([ca!, ark], 'x', pins)).toThrow(
      expect.objectContaining({ code: 'CERT_CHAIN_INVALID' }),
    );
  });

  it('judges validity at the given time', () => {
    expect(() => verifyChain(chain(), 'x', { ...pins, now: new Date('2017-01-01T00:00:00Z') })).toThrow(
      expect.objectContaining({ code: 'COLLATERAL_NOT_YET_VALID' }),
    );
    const crl = parseCrl(readVector(`${DIR}/pck_crl.der`), 'PCK CRL');
    expect(() => verifyCrl(crl, chain()[0]!, 'PCK CRL', new Date('2025-07-20T00:00:00Z'))).toThrow(
      expect.objectContaining({ code: 'COLLATERAL_EXPIRED' }),
    );
  });

  it('refuses a CRL with a flipped bit in its signed part or signature, or signed by another CA', () => {
    const der = readVector(`${DIR}/pck_crl.der`);
    const c = chain();
    for (const at of [40, 200, der.length - 10]) {
      const m = der.slice();
      m[at]! ^= 0x04;
      let code: string | undefined;
      try {
        verifyCrl(parseCrl(m, 'PCK CRL'), c[0]!, 'PCK CRL', now);
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      expect(code, `flip at ${at}`).toMatch(/^CRL_(INVALID|MALFORMED)$/);
    }
    const rootCrl = parseCrl(readVector(`${DIR}/root_ca_crl.der`), 'Root CA CRL');
    expect(() => verifyCrl(rootCrl, c[0]!, 'Root CA CRL', now)).toThrow(
      expect.objectContaining({ code: 'CRL_INVALID' }),
    );
  });

  it('verifies an AMD VCEK chain (RSA-PSS SHA-384) to the pinned Milan ARK', () => {
    const vcek = parseCertificate(readVector('sev-snp/milan-v2-virtee/vcek.der'), 'VCEK');
    const askArk = parsePemChain(readVectorText('sev-snp/roots/milan/cert_chain_vcek.pem'), 'AMD chain');
    verifyChain([vcek, ...askArk], 'VCEK chain', {
      now: new Date('2025-12-07T00:00:00Z'),
      pinnedRoots: DEFAULT_TRUST_ROOTS.amd.Milan,
    });
    expect(() =>
      verifyChain([vcek, ...askArk], 'VCEK chain', {
        now: new Date('2025-12-07T00:00:00Z'),
        pinnedRoots: DEFAULT_TRUST_ROOTS.amd.Genoa,
      }),
    ).toThrow(expect.objectContaining({ code: 'ROOT_NOT_TRUSTED' }));
  });

  it('malformed inputs are typed errors', () => {
    expect(() => parseCertificate(new Uint8Array([0x30, 0x03, 1, 2, 3]), 'x')).toThrow(
      expect.objectContaining({ code: 'CERT_MALFORMED' }),
    );
    expect(() => parsePemChain('nothing here', 'x')).toThrow(
      expect.objectContaining({ code: 'CERT_MALFORMED' }),
    );
    expect(() => parseCrl(new Uint8Array([0x30, 0x82, 0xff]), 'x')).toThrow(
      expect.objectContaining({ code: 'CRL_MALFORMED' }),
    );
  });

  it('memos (parsed PEM blocks, root self-signature, SPKI hash) never carry a verdict to other bytes', () => {
    const memo: PemMemo = new Map();
    const pem = readVectorText(`${DIR}/pck_crl_issuer_chain.pem`);
    const [ca, root] = parsePemChain(pem, 'x', memo);
    const again = parsePemChain(pem, 'x', memo);
    expect(again[0]).toBe(ca);
    expect(again[1]).toBe(root);
    verifyChain([ca!, root!], 'x', pins);
    // The same root with one bit of its signature flipped: same subject and key, so the PCK CA still
    // verifies under it, but its self-signature must be checked again and fail.
    const der = new Uint8Array(root!.raw);
    der[der.length - 1]! ^= 0x01;
    const forged = parseCertificate(der, 'forged root');
    expect(() => verifyChain([ca!, forged], 'x', pins)).toThrow(
      expect.objectContaining({
        code: 'CERT_CHAIN_INVALID',
        message: expect.stringContaining('self-signed'),
      }),
    );
    // A memoised SPKI hash is handed out as a copy.
    const fp = spkiSha256(root!);
    fp.fill(0);
    expect(toHex(spkiSha256(root!))).toBe(INTEL_SGX_ROOT_CA_SPKI_SHA256);
    verifyChain([ca!, root!], 'x', pins);
  });
});

describe.skipIf(!VECTORS)('CRL parsing agrees with @peculiar/x509 on every real CRL', () => {
  it('same dates and revoked serials', async () => {
    await import('reflect-metadata');
    const { X509Crl } = await import('@peculiar/x509');
    const { readdirSync } = await import('node:fs');
    const { vectorPath } = await import('../test/vectors.js');
    let n = 0;
    for (const kind of ['tdx', 'sgx']) {
      for (const set of readdirSync(vectorPath(`${kind}/collateral`))) {
        for (const f of ['pck_crl.der', 'root_ca_crl.der']) {
          const der = readVector(`${kind}/collateral/${set}/${f}`);
          const ours = parseCrl(der, f);
          const theirs = new X509Crl(Buffer.from(der));
          expect(ours.thisUpdate).toEqual(theirs.thisUpdate);
          expect(ours.nextUpdate).toEqual(theirs.nextUpdate);
          expect([...ours.revokedSerials].sort()).toEqual(
            theirs.entries.map((e) => normaliseSerial(e.serialNumber)).sort(),
          );
          n++;
        }
      }
    }
    expect(n).toBeGreaterThanOrEqual(20);
  });
});

import 'reflect-metadata';
import { X509Certificate as NodeCert, webcrypto } from 'node:crypto';
import {
  BasicConstraintsExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  X509CertificateGenerator,
  X509CrlGenerator,
} from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { codeOf } from '../../test/error-code.js';
import { DEFAULT_TRUST_ROOTS, type TrustRoots } from '../roots.js';
import { spkiSha256 } from '../x509.js';
import { checkPckRevocation, verifyCollateral } from './collateral.js';
import type { IntelCollateral } from './types.js';

/*
 * Revocation and chain paths that the real vectors cannot reach (nothing in them is revoked): a
 * throw-away PKI shaped like Intel's (root → TCB Signing, root → PCK CA → PCK), with our own pin.
 */

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const { subtle } = webcrypto;
const NOW = new Date('2025-01-15T00:00:00Z');
const NB = new Date('2024-01-01T00:00:00Z');
const NA = new Date('2030-01-01T00:00:00Z');

async function keys(): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

interface Pki {
  rootKeys: CryptoKeyPair;
  rootPem: string;
  signingPem: string;
  signingSerial: string;
  signingKeys: CryptoKeyPair;
  pckCaPem: string;
  pckCaSerial: string;
  pckCaKeys: CryptoKeyPair;
  pckPem: string;
  pckSerial: string;
  otherCaPem: string;
  otherPckPem: string;
}

async function issue(
  name: string,
  serial: string,
  subjectKeys: CryptoKeyPair,
  issuerName: string,
  issuerKey: CryptoKey,
  ca: boolean,
): Promise<string> {
  const cert = await X509CertificateGenerator.create({
    serialNumber: serial,
    subject: name,
    issuer: issuerName,
    notBefore: NB,
    notAfter: NA,
    signingAlgorithm: ALG,
    publicKey: subjectKeys.publicKey,
    signingKey: issuerKey,
    extensions: [
      new BasicConstraintsExtension(ca, undefined, true),
      new KeyUsagesExtension(
        ca ? KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign : KeyUsageFlags.digitalSignature,
        true,
      ),
    ],
  });
  return cert.toString('pem');
}

const ROOT = 'CN=Test SGX Root CA, O=Test';
const PCK_CA = 'CN=Test SGX PCK Platform CA, O=Test';

async function makePki(): Promise<Pki> {
  const rootKeys = await keys();
  const root = await X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: ROOT,
    notBefore: NB,
    notAfter: NA,
    signingAlgorithm: ALG,
    keys: rootKeys,
    extensions: [
      new BasicConstraintsExtension(true, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
    ],
  });
  const signingKeys = await keys();
  const pckCaKeys = await keys();
  const pckKeys = await keys();
  const otherKeys = await keys();
  const otherCaPem = await issue(
    'CN=Test SGX PCK Processor CA, O=Test',
    '0c',
    otherKeys,
    ROOT,
    rootKeys.privateKey,
    true,
  );
  return {
    rootKeys,
    rootPem: root.toString('pem'),
    signingPem: await issue(
      'CN=Test SGX TCB Signing, O=Test',
      '0a',
      signingKeys,
      ROOT,
      rootKeys.privateKey,
      false,
    ),
    signingSerial: '0a',
    signingKeys,
    pckCaPem: await issue(PCK_CA, '0b', pckCaKeys, ROOT, rootKeys.privateKey, true),
    pckCaSerial: '0b',
    pckCaKeys,
    pckPem: await issue(
      'CN=Test SGX PCK Certificate, O=Test',
      '0d',
      pckKeys,
      PCK_CA,
      pckCaKeys.privateKey,
      false,
    ),
    pckSerial: '0d',
    otherCaPem,
    otherPckPem: await issue(
      'CN=Test SGX PCK Certificate, O=Test',
      '0e',
      pckKeys,
      'CN=Test SGX PCK Processor CA, O=Test',
      otherKeys.privateKey,
      false,
    ),
  };
}

async function sign(key: CryptoKey, text: string): Promise<Uint8Array> {
  // WebCrypto ECDSA signatures are already raw r‖s (IEEE P1363), as Intel's are.
  return new Uint8Array(await subtle.sign(ALG, key, new TextEncoder().encode(text)));
}

async function crl(issuer: string, key: CryptoKey, revoked: string[]): Promise<Uint8Array> {
  const c = await X509CrlGenerator.create({
    issuer,
    thisUpdate: new Date('2025-01-01T00:00:00Z'),
    nextUpdate: new Date('2025-02-01T00:00:00Z'),
    signingAlgorithm: ALG,
    signingKey: key,
    entries: revoked.map((serialNumber) => ({
      serialNumber,
      revocationDate: new Date('2025-01-02T00:00:00Z'),
    })),
  });
  return new Uint8Array(c.rawData);
}

const comps = (n: number) => Array.from({ length: 16 }, () => ({ svn: n }));
const TCB_INFO = JSON.stringify({
  id: 'TDX',
  version: 3,
  issueDate: '2025-01-01T00:00:00Z',
  nextUpdate: '2025-02-01T00:00:00Z',
  fmspc: '00806F050000',
  pceId: '0000',
  tcbType: 0,
  tcbEvaluationDataNumber: 17,
  tdxModule: { mrsigner: '00'.repeat(48), attributes: '00'.repeat(8), attributesMask: 'FF'.repeat(8) },
  tcbLevels: [
    {
      tcb: { sgxtcbcomponents: comps(1), pcesvn: 11, tdxtcbcomponents: comps(1) },
      tcbDate: '2024-03-13T00:00:00Z',
      tcbStatus: 'UpToDate',
    },
  ],
});
const QE_IDENTITY = JSON.stringify({
  id: 'TD_QE',
  version: 2,
  issueDate: '2025-01-01T00:00:00Z',
  nextUpdate: '2025-02-01T00:00:00Z',
  tcbEvaluationDataNumber: 17,
  miscselect: '00000000',
  miscselectMask: 'FFFFFFFF',
  attributes: '11000000000000000000000000000000',
  attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
  mrsigner: 'DC'.repeat(32),
  isvprodid: 2,
  tcbLevels: [{ tcb: { isvsvn: 4 }, tcbDate: '2024-03-13T00:00:00Z', tcbStatus: 'UpToDate' }],
});

describe('collateral verification with a synthetic Intel-shaped PKI', () => {
  let pki: Pki;
  let roots: TrustRoots;
  let build: (o?: { rootRevoked?: string[]; pckRevoked?: string[] }) => Promise<IntelCollateral>;

  beforeAll(async () => {
    pki = await makePki();
    roots = { ...DEFAULT_TRUST_ROOTS, intel: [spkiSha256(new NodeCert(pki.rootPem))] };
    const signingChain = pki.signingPem + pki.rootPem;
    const tcbSig = await sign(pki.signingKeys.privateKey, TCB_INFO);
    const qeSig = await sign(pki.signingKeys.privateKey, QE_IDENTITY);
    build = async (o = {}) => ({
      tcbInfo: { text: TCB_INFO, signature: tcbSig, issuerChain: signingChain },
      qeIdentity: { text: QE_IDENTITY, signature: qeSig, issuerChain: signingChain },
      pckCrl: await crl(PCK_CA, pki.pckCaKeys.privateKey, o.pckRevoked ?? []),
      pckCrlIssuerChain: pki.pckCaPem + pki.rootPem,
      rootCaCrl: await crl(ROOT, pki.rootKeys.privateKey, o.rootRevoked ?? []),
    });
  });

  it('verifies under its own pin and not under Intel’s', async () => {
    const c = await build();
    const v = verifyCollateral(c, { now: NOW, roots });
    expect(v.tcbInfo.id).toBe('TDX');
    expect(v.issuedAt.toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(codeOf(() => verifyCollateral(c, { now: NOW }))).toBe('ROOT_NOT_TRUSTED');
  });

  it('a TCB Signing certificate revoked by the Root CA CRL is refused', async () => {
    const c = await build({ rootRevoked: [pki.signingSerial] });
    expect(codeOf(() => verifyCollateral(c, { now: NOW, roots }))).toBe('CERT_REVOKED');
  });

  it('a PCK CA revoked by the Root CA CRL is refused', async () => {
    const c = await build({ rootRevoked: [pki.pckCaSerial] });
    expect(codeOf(() => verifyCollateral(c, { now: NOW, roots }))).toBe('CERT_REVOKED');
  });

  it('checkPckRevocation: revoked PCK, PCK from another CA, good PCK', async () => {
    const chain = [new NodeCert(pki.pckPem), new NodeCert(pki.pckCaPem), new NodeCert(pki.rootPem)];
    const good = verifyCollateral(await build(), { now: NOW, roots });
    checkPckRevocation(good, chain);
    const revoked = verifyCollateral(await build({ pckRevoked: [pki.pckSerial] }), { now: NOW, roots });
    expect(codeOf(() => checkPckRevocation(revoked, chain))).toBe('CERT_REVOKED');
    const other = [new NodeCert(pki.otherPckPem), new NodeCert(pki.otherCaPem), new NodeCert(pki.rootPem)];
    expect(codeOf(() => checkPckRevocation(good, other))).toBe('CRL_INVALID');
    expect(codeOf(() => checkPckRevocation(good, chain.slice(0, 1)))).toBe('INVALID_ARGUMENT');
  });

  it('a PCK CRL signed by another CA, and chains from different roots, are refused', async () => {
    const c = await build();
    const forged = await crl(PCK_CA, pki.signingKeys.privateKey, []);
    expect(codeOf(() => verifyCollateral({ ...c, pckCrl: forged }, { now: NOW, roots }))).toBe('CRL_INVALID');
    // QE Identity genuinely signed under a second pinned root: one root must cover everything.
    const pki2 = await makePki();
    const roots2 = { ...roots, intel: [...roots.intel, spkiSha256(new NodeCert(pki2.rootPem))] };
    const qeIdentity = {
      text: QE_IDENTITY,
      signature: await sign(pki2.signingKeys.privateKey, QE_IDENTITY),
      issuerChain: pki2.signingPem + pki2.rootPem,
    };
    verifyCollateral({ ...c, qeIdentity: { ...c.qeIdentity } }, { now: NOW, roots: roots2 });
    expect(codeOf(() => verifyCollateral({ ...c, qeIdentity }, { now: NOW, roots: roots2 }))).toBe(
      'CERT_CHAIN_INVALID',
    );
    // The signing certificate as its own "chain" (wrong length).
    expect(
      codeOf(() =>
        verifyCollateral(
          { ...c, qeIdentity: { ...c.qeIdentity, issuerChain: pki.signingPem } },
          { now: NOW, roots },
        ),
      ),
    ).toBe('CERT_CHAIN_INVALID');
  });
});

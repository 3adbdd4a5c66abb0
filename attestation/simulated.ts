import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { ByteReader, bytesEqual, concatBytes, toHex } from './bytes.js';
import { fail } from './errors.js';
import type { VerifiedSimulated } from './evidence.js';

/*
 * The simulated TEE: evidence with the shape of a TDX report body (MRTD, RTMR0-3, MRCONFIGID,
 * MROWNER, REPORTDATA), signed by a software root that is generated at run time. It exists for tests
 * and laptops. It is its own TEE type, `simulated`, which the default policy rejects: it proves
 * nothing about hardware, and anyone can make a root.
 *
 * Layout (all offsets in bytes, integers little-endian):
 *   0   8  magic "DEFAASIM"
 *   8   2  version (1)
 *  10   2  flags (bit 0: debug)
 *  12   4  reserved, zero
 *  16  48  mrTd
 *  64 192  rtmr0..rtmr3 (48 each)
 * 256  48  mrConfigId
 * 304  48  mrOwner
 * 352  64  reportData
 * 416  91  root public key (P-256 SubjectPublicKeyInfo, DER, uncompressed point)
 * 507  64  ECDSA P-256 SHA-256 signature (r‖s) over bytes [0, 507)
 * 571      end
 */

const MAGIC = new TextEncoder().encode('DEFAASIM');
const SPKI_LEN = 91;
export const SIMULATED_EVIDENCE_LENGTH = 571;
const SIGNED_LENGTH = 507;

export const SIMULATED_MEASUREMENT_NAMES = [
  'mrTd',
  'rtmr0',
  'rtmr1',
  'rtmr2',
  'rtmr3',
  'mrConfigId',
  'mrOwner',
] as const;
export type SimulatedMeasurementName = (typeof SIMULATED_MEASUREMENT_NAMES)[number];

export interface SimulatedRoot {
  readonly privateKey: KeyObject;
  /** SubjectPublicKeyInfo DER of the root key. */
  readonly publicKey: Uint8Array;
  /** SHA-256 of `publicKey`: what a policy pins in `simulated.rootKeyHashes`. */
  readonly keyHash: Uint8Array;
}

export function generateSimulatedRoot(): SimulatedRoot {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return simulatedRootFromKey(privateKey);
}

/** Loads a root from a PKCS#8 PEM private key (e.g. one kept in an executor's state dir). */
export function simulatedRootFromPem(pem: string): SimulatedRoot {
  return simulatedRootFromKey(createPrivateKey(pem));
}

function simulatedRootFromKey(privateKey: KeyObject): SimulatedRoot {
  const publicKey = new Uint8Array(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
  if (publicKey.length !== SPKI_LEN) fail('INVALID_ARGUMENT', 'simulated root must be a P-256 key');
  return { privateKey, publicKey, keyHash: new Uint8Array(createHash('sha256').update(publicKey).digest()) };
}

export interface SimulatedEvidenceInput {
  readonly reportData: Uint8Array;
  readonly measurements?: Partial<Record<SimulatedMeasurementName, Uint8Array>>;
  readonly debug?: boolean;
}

export function produceSimulatedEvidence(root: SimulatedRoot, input: SimulatedEvidenceInput): Uint8Array {
  if (input.reportData.length !== 64) fail('INVALID_ARGUMENT', 'reportData must be 64 bytes');
  const head = new Uint8Array(16);
  head.set(MAGIC, 0);
  const dv = new DataView(head.buffer);
  dv.setUint16(8, 1, true);
  dv.setUint16(10, input.debug ? 1 : 0, true);
  const regs = SIMULATED_MEASUREMENT_NAMES.map((n) => {
    const v = input.measurements?.[n] ?? new Uint8Array(48);
    if (v.length !== 48) fail('INVALID_ARGUMENT', `measurement ${n} must be 48 bytes`);
    return v;
  });
  const body = concatBytes(head, ...regs, input.reportData, root.publicKey);
  const sig = sign('sha256', body, { key: root.privateKey, dsaEncoding: 'ieee-p1363' });
  return concatBytes(body, new Uint8Array(sig));
}

export interface SimulatedEvidence {
  readonly version: number;
  readonly debug: boolean;
  readonly measurements: Readonly<Record<SimulatedMeasurementName, Uint8Array>>;
  readonly reportData: Uint8Array;
  readonly rootPublicKey: Uint8Array;
  readonly signature: Uint8Array;
  readonly signed: Uint8Array;
  readonly raw: Uint8Array;
}

export function isSimulatedEvidence(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && bytesEqual(bytes.subarray(0, MAGIC.length), MAGIC);
}

export function parseSimulatedEvidence(bytes: Uint8Array): SimulatedEvidence {
  const r = new ByteReader(bytes, 'SIM_MALFORMED');
  if (!bytesEqual(r.bytes(8, 'magic'), MAGIC)) fail('SIM_MALFORMED', 'not simulated evidence (bad magic)');
  const version = r.u16('version');
  if (version !== 1) fail('SIM_MALFORMED', `unsupported simulated evidence version ${version}`, { version });
  const flags = r.u16('flags');
  if (flags & ~1) fail('SIM_MALFORMED', `unknown flag bits 0x${flags.toString(16)}`);
  if (r.u32('reserved') !== 0) fail('SIM_MALFORMED', 'reserved field is not zero');
  const measurements = {} as Record<SimulatedMeasurementName, Uint8Array>;
  for (const n of SIMULATED_MEASUREMENT_NAMES) measurements[n] = r.bytes(48, n);
  const reportData = r.bytes(64, 'reportData');
  const rootPublicKey = r.bytes(SPKI_LEN, 'root public key');
  const signature = r.bytes(64, 'signature');
  if (r.remaining !== 0) fail('SIM_MALFORMED', `${r.remaining} trailing bytes after simulated evidence`);
  return {
    version,
    debug: (flags & 1) === 1,
    measurements,
    reportData,
    rootPublicKey,
    signature,
    signed: bytes.subarray(0, SIGNED_LENGTH),
    raw: bytes,
  };
}

/**
 * Checks the signature under the root key carried in the evidence. Which roots are acceptable is
 * policy (`simulated.rootKeyHashes`): any root can sign, so this proves only that the evidence was
 * not altered after signing.
 */
export function verifySimulatedEvidence(ev: SimulatedEvidence): VerifiedSimulated {
  let ok = false;
  try {
    const key = createPublicKey({ key: Buffer.from(ev.rootPublicKey), format: 'der', type: 'spki' });
    ok = verify('sha256', ev.signed, { key, dsaEncoding: 'ieee-p1363' }, ev.signature);
  } catch (e) {
    fail('SIM_MALFORMED', 'simulated evidence carries an unusable root key', {}, e);
  }
  if (!ok) fail('SIM_SIGNATURE_INVALID', 'simulated evidence signature does not verify');
  const rootKeyHash = new Uint8Array(createHash('sha256').update(ev.rootPublicKey).digest());
  return {
    tee: 'simulated',
    evidenceHash: new Uint8Array(createHash('sha256').update(ev.raw).digest()),
    measurements: ev.measurements,
    reportData: ev.reportData,
    debug: ev.debug,
    rootKeyHash,
  };
}

export function describeSimulatedRoot(root: SimulatedRoot): string {
  return toHex(root.keyHash);
}

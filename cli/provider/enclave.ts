import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bindReportData } from '../../attestation/binding.js';
import { bytesEqual } from '../../attestation/bytes.js';
import type { QuoteSource } from '../../enclave-host/session/evidence-source.js';
import { type EnclaveIdentity, generateEnclaveIdentity } from '../../enclave-host/session/identity.js';
import { addressOfPrivateKey, isPrivateKey } from '../../protocol/secp256k1.js';
import { exportX25519Private, x25519FromPrivate } from '../../protocol/x25519.js';
import { stateCorrupt, stateIo } from '../../verifier/agent/errors.js';
import { writeFileAtomic } from '../../verifier/durable-file.js';

/*
 * The executor's enclave identity and its standing evidence, the pair the Registry holds (enclave
 * address and the evidence's SHA-256). Clients pin both, so the executor presents exactly the
 * registered evidence bytes for as long as the registration stands.
 *
 * On the simulated TEE the pair is kept in `<state-dir>/enclave.json` (mode 0600) so that a restarted
 * provider serves its leases with the enclave they are bound to. On TDX and SEV-SNP the identity key
 * is created inside the TEE at each start and never written out (the host would read it): a restart is
 * a new enclave, with new evidence, which the provider registers by an update (docs/provider.md).
 */

export interface PreparedEnclave {
  readonly identity: EnclaveIdentity;
  /** Presents the standing evidence for the standing REPORTDATA, asks the TEE for anything else. */
  readonly quotes: QuoteSource;
  readonly evidence: Uint8Array;
  /** 0x-hex SHA-256 of the raw evidence. */
  readonly evidenceHash: string;
  /** True when the identity was read back from the state directory. */
  readonly restored: boolean;
}

interface StoredEnclave {
  readonly v: 1;
  readonly tee: string;
  readonly identityPrivateKey: string;
  readonly staticPrivateKey: string;
  readonly evidence: string;
  readonly auxblob: string | null;
}

const FILE = 'enclave.json';

function restore(
  text: string,
  path: string,
  tee: string,
): { identity: EnclaveIdentity; evidence: Uint8Array; auxblob?: Uint8Array } {
  const bad = (why: string) => stateCorrupt(path, why);
  let s: StoredEnclave;
  try {
    s = JSON.parse(text) as StoredEnclave;
  } catch {
    throw bad('not JSON');
  }
  if (s?.v !== 1 || typeof s.identityPrivateKey !== 'string' || typeof s.staticPrivateKey !== 'string')
    throw bad('not an enclave record');
  if (s.tee !== tee) throw bad(`holds a ${s.tee} enclave, this executor runs on ${tee}`);
  const priv = Uint8Array.from(Buffer.from(s.identityPrivateKey, 'hex'));
  if (!isPrivateKey(priv)) throw bad('identity key invalid');
  const identity: EnclaveIdentity = {
    identityPrivateKey: priv,
    identityAddress: addressOfPrivateKey(priv),
    staticKey: x25519FromPrivate(Uint8Array.from(Buffer.from(s.staticPrivateKey, 'hex'))),
  };
  const evidence = Uint8Array.from(Buffer.from(s.evidence, 'base64'));
  if (evidence.length === 0) throw bad('no evidence');
  return {
    identity,
    evidence,
    ...(s.auxblob !== null && { auxblob: Uint8Array.from(Buffer.from(s.auxblob, 'base64')) }),
  };
}

/**
 * The identity and standing evidence for this start: restored from `stateDir` when `persist` (the
 * simulated TEE) and present, else a new identity whose standing evidence `tee` produces now.
 */
export async function prepareEnclave(
  tee: QuoteSource,
  stateDir: string,
  persist: boolean,
): Promise<PreparedEnclave> {
  const path = join(stateDir, FILE);
  let restored: ReturnType<typeof restore> | undefined;
  if (persist) {
    const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw stateIo(path, e);
    });
    if (text !== undefined) restored = restore(text, path, tee.tee);
  }
  const identity = restored?.identity ?? generateEnclaveIdentity();
  const standingReportData = bindReportData({
    identityAddress: identity.identityAddress,
    x25519PublicKey: identity.staticKey.publicKey,
  });
  const standing = restored ?? (await tee.getEvidence(standingReportData));
  if (persist && !restored) {
    const record: StoredEnclave = {
      v: 1,
      tee: tee.tee,
      identityPrivateKey: Buffer.from(identity.identityPrivateKey).toString('hex'),
      staticPrivateKey: Buffer.from(exportX25519Private(identity.staticKey.privateKey)).toString('hex'),
      evidence: Buffer.from(standing.evidence).toString('base64'),
      auxblob: standing.auxblob ? Buffer.from(standing.auxblob).toString('base64') : null,
    };
    await writeFileAtomic(path, `${JSON.stringify(record)}\n`, 0o600);
  }
  const quotes: QuoteSource = {
    tee: tee.tee,
    getEvidence: async (rd) =>
      bytesEqual(rd, standingReportData)
        ? { evidence: standing.evidence, ...(standing.auxblob && { auxblob: standing.auxblob }) }
        : tee.getEvidence(rd),
  };
  return {
    identity,
    quotes,
    evidence: standing.evidence,
    evidenceHash: `0x${createHash('sha256').update(standing.evidence).digest('hex')}`,
    restored: restored !== undefined,
  };
}

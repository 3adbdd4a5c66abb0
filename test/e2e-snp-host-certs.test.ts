import { X509Certificate } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Policy } from '../attestation/policy.js';
import { buildSnpCertTable } from '../attestation/sev-snp/cert-table.js';
import { ConfigfsTsmQuoteProvider } from '../enclave-host/quote/configfs-tsm.js';
import { FakeConfigfsTsm } from '../enclave-host/quote/fake-configfs-tsm.js';
import { connect } from '../sdk/connect.js';
import { type Harness, startExecutor } from './e2e-harness.js';
import { codeOfAsync as codeOf } from './error-code.js';
import { readVector, readVectorText, VECTORS, type VectorIndexEntry, vectorIndex } from './vectors.js';

/*
 * An SEV-SNP executor over configfs-tsm presents the host's certificate table (auxblob) with the
 * report, and the SDK verifies the report with it. The report is a recorded real one (no SNP
 * hardware here): its REPORTDATA cannot bind this executor's fresh keys, so the furthest a correct
 * client may go is REPORT_DATA_MISMATCH, after the report's signature, the VCEK → ASK → ARK chain
 * and the policy all passed. Any earlier code means the collateral did not make it across.
 */

const VECTOR_ID = 'milan-v3-azure';

function entry(): VectorIndexEntry {
  const e = vectorIndex().sev_snp.find((x) => x.id === VECTOR_ID);
  if (!e) throw new Error(`vector ${VECTOR_ID} is not in the index`);
  return e;
}

describe.skipIf(!VECTORS)('SEV-SNP host certificate table, executor to SDK', () => {
  let fake: FakeConfigfsTsm;
  let bare: FakeConfigfsTsm;
  let h: Harness;
  let hBare: Harness;
  let policy: Policy;
  let now: Date;
  let chain: string;

  beforeAll(async () => {
    const e = entry();
    const f = e.files as Record<string, string>;
    const report = readVector(f.report!);
    const vcek = readVector(f.vcek!);
    chain = readVectorText(f.signer_chain!);
    const [ask, ark] = chain.split(/(?<=-----END CERTIFICATE-----)\s*/).filter((s) => s.includes('BEGIN'));
    const der = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);
    const facts = e.facts as Record<string, string>;
    now = new Date(e.verify_at);
    policy = {
      allowedTees: ['sev-snp'],
      measurements: { 'sev-snp': { measurement: facts.measurement! } },
    };
    // The host of a full table (VCEK, ASK, ARK) and one that gives only the VCEK.
    fake = await FakeConfigfsTsm.create({
      provider: 'sev_guest',
      auxblob: buildSnpCertTable({ vcek, ask: der(ask!), ark: der(ark!) }),
      makeOutblob: () => report,
    });
    bare = await FakeConfigfsTsm.create({
      provider: 'sev_guest',
      auxblob: buildSnpCertTable({ vcek }),
      makeOutblob: () => report,
    });
    h = await startExecutor({
      quotes: new ConfigfsTsmQuoteProvider({ tee: 'sev-snp', root: fake.root, fs: fake.fs }),
    });
    hBare = await startExecutor({
      quotes: new ConfigfsTsmQuoteProvider({ tee: 'sev-snp', root: bare.root, fs: bare.fs }),
    });
  });

  afterAll(async () => {
    await h?.stop();
    await hBare?.stop();
    for (const f of [fake, bare]) if (f) await rm(f.root, { recursive: true, force: true });
  });

  it('verifies the real report with the presented table, then refuses the key binding', async () => {
    expect(await codeOf(connect(h.endpoint, { policy, now }))).toBe('REPORT_DATA_MISMATCH');
  });

  it('a policy pinning another measurement refuses at the policy step', async () => {
    const other: Policy = { ...policy, measurements: { 'sev-snp': { measurement: '00'.repeat(48) } } };
    expect(await codeOf(connect(h.endpoint, { policy: other, now }))).toBe('POLICY_MEASUREMENT_MISMATCH');
  });

  it('a VCEK without the AMD chain is not enough: COLLATERAL_MISSING', async () => {
    expect(await codeOf(connect(hBare.endpoint, { policy, now }))).toBe('COLLATERAL_MISSING');
  });

  it('the client can supply what the host left out (snpCollateral)', async () => {
    expect(await codeOf(connect(hBare.endpoint, { policy, now, snpCollateral: { chain } }))).toBe(
      'REPORT_DATA_MISMATCH',
    );
  });

  it('collateral expired at the verification time is refused', async () => {
    const later = new Date(Date.parse('2100-01-01T00:00:00Z'));
    expect(await codeOf(connect(h.endpoint, { policy, now: later }))).toBe('COLLATERAL_EXPIRED');
  });
});

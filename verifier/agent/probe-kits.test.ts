import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeGrantToJson, signProbeGrant } from '../../protocol/probe-grant.js';
import { encodeKnownAnswers, knownAnswersOf } from '../probes/known-answers.js';
import { isAgentError } from './errors.js';
import { directoryProbeKits } from './probe-kits.js';

const customer = Wallet.createRandom();
const witness = Wallet.createRandom().address;
const domain = { chainId: 31337n, verifyingContract: '0x0000000000000000000000000000000000000001' };
const grant = (o: { lease?: bigint; epoch?: bigint; witness?: string } = {}) =>
  JSON.stringify(
    probeGrantToJson(
      signProbeGrant(Buffer.from(customer.privateKey.slice(2), 'hex'), domain, {
        leaseId: o.lease ?? 7n,
        witness: o.witness ?? witness,
        epoch: o.epoch ?? 2n,
        maxCalls: 10n,
        maxAmount: 10n,
        expiry: 2_000_000_000n,
      }),
    ),
  );

describe('probe kits from a directory', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'defaas-kits-'));
    const k = knownAnswersOf(7n, 'ab'.repeat(32), [
      { input: new Uint8Array([1]), output: new Uint8Array([2]) },
    ]);
    await writeFile(join(dir, '7.answers.json'), encodeKnownAnswers(k));
    await writeFile(join(dir, '7-2.grant.json'), grant());
    await writeFile(
      join(dir, '7-3.grant.json'),
      grant({ epoch: 3n, witness: Wallet.createRandom().address }),
    );
    await writeFile(join(dir, '7-4.grant.json'), '{ not json');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("gives the kit when the answers and this epoch's grant to this witness are there", () => {
    const kits = directoryProbeKits(dir, witness);
    const kit = kits(7n, 2);
    expect(kit?.known.answers).toHaveLength(1);
    expect(kit?.grant?.grant.epoch).toBe(2n);
    expect(kits(7n, 5)).toBeUndefined();
    expect(kits(8n, 2)).toBeUndefined();
  });

  it('refuses a grant to another witness and a malformed file, with PROBE_KIT_INVALID', () => {
    const kits = directoryProbeKits(dir, witness);
    for (const epoch of [3, 4]) {
      let caught: unknown;
      try {
        kits(7n, epoch);
      } catch (e) {
        caught = e;
      }
      expect(isAgentError(caught, 'PROBE_KIT_INVALID'), String(caught)).toBe(true);
    }
  });
});

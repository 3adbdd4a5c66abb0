import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { Wallet } from 'ethers';
import { bindReportData } from '../../attestation/binding.js';
import { toHex } from '../../attestation/bytes.js';
import { checkEvidence } from '../../attestation/check.js';
import { isAttestationError } from '../../attestation/errors.js';
import { PLATFORM_POLICY, type Policy } from '../../attestation/policy.js';
import { generateSimulatedRoot, produceSimulatedEvidence } from '../../attestation/simulated.js';
import { EXIT } from '../exit-codes.js';

/**
 * `npm start`: the local demonstration. Today it runs the attestation step of the trust chain with
 * the simulated TEE (keys → REPORTDATA binding → evidence → verification under a pinned policy, and
 * the same evidence refused by the production platform policy).
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'run the local demonstration (simulated TEE: produce evidence, verify it, show the verdicts)',
    )
    .option('--json', 'print the verdicts as JSON')
    .action(async (o: { json?: boolean }) => {
      process.exitCode = await demo(o.json === true);
    });
}

async function demo(json: boolean): Promise<number> {
  const log = (s: string) => {
    if (!json) process.stdout.write(`${s}\n`);
  };
  log('defaas demo — simulated TEE (software root; production policies refuse it)\n');
  const root = generateSimulatedRoot();
  const identity = Wallet.createRandom();
  const x25519 = new Uint8Array(randomBytes(32));
  const reportData = bindReportData({ identityAddress: identity.address, x25519PublicKey: x25519 });
  const mrTd = new Uint8Array(randomBytes(48));
  const evidence = produceSimulatedEvidence(root, { reportData, measurements: { mrTd } });
  log(`1. executor keys: identity ${identity.address}, X25519 ${toHex(x25519).slice(0, 16)}…`);
  log(
    `2. simulated evidence: ${evidence.length} bytes, MRTD ${toHex(mrTd).slice(0, 16)}…, REPORTDATA binds both keys`,
  );

  const pinned: Policy = {
    allowedTees: ['simulated'],
    measurements: { simulated: { mrTd: toHex(mrTd) } },
    simulated: { rootKeyHashes: [toHex(root.keyHash)] },
  };
  const now = new Date();
  const results: Record<string, unknown>[] = [];
  const attempt = async (name: string, policy: Policy, expected: Uint8Array) => {
    try {
      const v = await checkEvidence({ evidence }, { now, policy, reportData: expected });
      results.push({ policy: name, ok: true, tee: v.tee });
      log(`   ${name}: ACCEPTED (${v.tee})`);
    } catch (e) {
      if (!isAttestationError(e)) throw e;
      results.push({ policy: name, ok: false, code: e.code, message: e.message });
      log(`   ${name}: REJECTED [${e.code}] ${e.message}`);
    }
  };
  log('3. verification:');
  await attempt('pinned simulated policy, keys bound', pinned, reportData);
  const otherKey = bindReportData({
    identityAddress: Wallet.createRandom().address,
    x25519PublicKey: x25519,
  });
  await attempt('pinned simulated policy, a relay presents another identity key', pinned, otherKey);
  await attempt('production platform policy', PLATFORM_POLICY, reportData);
  if (json) process.stdout.write(`${JSON.stringify({ results }, null, 2)}\n`);
  const ok = results[0]?.ok === true && results[1]?.ok === false && results[2]?.ok === false;
  log(ok ? '\nAll three verdicts are as expected.' : '\nUNEXPECTED verdicts: see above.');
  return ok ? EXIT.OK : EXIT.REJECTED;
}

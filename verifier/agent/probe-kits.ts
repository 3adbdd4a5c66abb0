import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseProbeGrantJson } from '../../protocol/probe-grant.js';
import { parseKnownAnswers } from '../probes/known-answers.js';
import { AgentError } from './errors.js';
import type { ProbeKit } from './probes.js';

/*
 * Probe kits a customer hands its witnesses as files in one directory (docs/witness.md, "Hidden
 * probes"): `<lease>.answers.json` (the known answers, `defaas probe answers`) and, per epoch,
 * `<lease>-<epoch>.grant.json` (the customer's ProbeGrant, `defaas probe grant`). A lease is probed
 * in an epoch only when both are there and the grant names this witness, lease and epoch; a file
 * that is there but malformed is an error (the customer meant the lease to be probed), never skipped.
 */
export function directoryProbeKits(
  dir: string,
  witness: string,
): (leaseId: bigint, epoch: number) => ProbeKit | undefined {
  const read = (name: string): string | undefined => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  };
  return (leaseId, epoch) => {
    const answers = read(`${leaseId}.answers.json`);
    const grantText = read(`${leaseId}-${epoch}.grant.json`);
    if (answers === undefined || grantText === undefined) return undefined;
    const bad = (what: string, e: unknown): never => {
      throw new AgentError('PROBE_KIT_INVALID', `${join(dir, what)}: ${(e as Error).message}`, {
        path: join(dir, what),
      });
    };
    let known: ProbeKit['known'];
    let grant: NonNullable<ProbeKit['grant']>;
    try {
      known = parseKnownAnswers(answers);
    } catch (e) {
      return bad(`${leaseId}.answers.json`, e);
    }
    try {
      grant = parseProbeGrantJson(JSON.parse(grantText));
    } catch (e) {
      return bad(`${leaseId}-${epoch}.grant.json`, e);
    }
    const g = grant.grant;
    if (
      known.leaseId !== leaseId ||
      g.leaseId !== leaseId ||
      g.epoch !== BigInt(epoch) ||
      g.witness.toLowerCase() !== witness.toLowerCase()
    )
      bad(
        `${leaseId}-${epoch}.grant.json`,
        new Error(`does not name lease ${leaseId}, epoch ${epoch} and witness ${witness}`),
      );
    return { known, grant };
  };
}

/*
 * Quorum rules over witness cosignatures, as c2sp.org/tlog-policy defines them ("What is a
 * "policy"?", "Defining a witness group"): a rule is `none` (no cosignature needed), one witness
 * (its cosignature is needed), or a group of k of its n members, each member a witness or a group.
 * A plain k-of-n threshold over a witness list is a group of witnesses.
 */

/** A witness by its cosigner key: the vkey's key name and key ID. */
export interface QuorumWitness {
  readonly kind: 'witness';
  /** The policy's name for the witness (tlog-policy names are local to the policy). */
  readonly name: string;
  readonly keyName: string;
  readonly keyId: number;
}

export interface QuorumGroup {
  readonly kind: 'group';
  readonly name: string;
  /** 1 ≤ threshold ≤ members.length ("it is required that 1 <= k <= n"). */
  readonly threshold: number;
  readonly members: readonly QuorumRule[];
}

export type QuorumRule = { readonly kind: 'none' } | QuorumWitness | QuorumGroup;

/** Does the rule hold when exactly the witnesses `cosigned` says yes for have cosigned? */
export function quorumMet(rule: QuorumRule, cosigned: (keyName: string, keyId: number) => boolean): boolean {
  switch (rule.kind) {
    case 'none':
      return true;
    case 'witness':
      return cosigned(rule.keyName, rule.keyId);
    case 'group': {
      let n = 0;
      for (const m of rule.members) if (quorumMet(m, cosigned) && ++n >= rule.threshold) return true;
      return false;
    }
  }
}

/** The rule in words, for messages: `none`, `w1`, `2 of (w1, w2, 1 of (w3, w4))`. */
export function describeQuorum(rule: QuorumRule): string {
  switch (rule.kind) {
    case 'none':
      return 'none';
    case 'witness':
      return rule.name;
    case 'group':
      return `${rule.threshold} of (${rule.members.map(describeQuorum).join(', ')})`;
  }
}

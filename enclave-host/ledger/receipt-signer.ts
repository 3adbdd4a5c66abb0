import { type SignedReceipt, signReceipt } from '../../protocol/settlement.js';
import type { Receipt, TypedDataDomain } from '../../protocol/typed-data.js';
import type { EnclaveIdentity } from '../session/identity.js';

/**
 * What the books may do with the enclave identity key: sign receipts under the lease's EIP-712
 * domain, nothing else. The books never see the private key.
 */
export interface ReceiptSigner {
  /** Lower-case 0x address of the identity key (the receipts' signer). */
  readonly address: string;
  sign(r: Receipt): SignedReceipt;
}

export function enclaveReceiptSigner(identity: EnclaveIdentity, domain: TypedDataDomain): ReceiptSigner {
  const key = identity.identityPrivateKey;
  return { address: identity.identityAddress, sign: (r) => signReceipt(domain, r, key) };
}

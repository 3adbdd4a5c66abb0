import type { ContractTransactionResponse, Overrides } from 'ethers';
import type { SentTx } from '../../verifier/agent/tx-sender.js';
import { UsageError } from '../errors.js';
import { type CustomerChain, reading } from './chain.js';

/*
 * One transaction of the customer's wallet through the chain's TxSender, at a nonce fixed before the
 * first attempt: a retry after a lost receipt re-sends the same nonce (so the step is never done
 * twice), and a nonce the chain has moved past means an earlier attempt was mined ('already-done').
 */
export async function sendTx(
  ch: CustomerChain,
  label: string,
  build: (overrides: Overrides) => Promise<ContractTransactionResponse>,
): Promise<SentTx | 'already-done'> {
  const { signer, sender } = ch;
  if (!signer || !sender)
    throw new UsageError(`${label} needs the customer's key: give --key <file>`, 'MISSING_ARGUMENT', {
      flag: '--key',
    });
  const nonce = await reading(ch.rpc, () => ch.provider.getTransactionCount(signer.address, 'pending'));
  return sender.send(
    label,
    () => build({ nonce }),
    async () => (await ch.provider.getTransactionCount(signer.address, 'latest')) > nonce,
  );
}

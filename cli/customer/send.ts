import { type ContractTransactionResponse, isError, type Overrides } from 'ethers';
import { isAgentError } from '../../verifier/agent/errors.js';
import type { SentTx } from '../../verifier/agent/tx-sender.js';
import { CliError, UsageError } from '../errors.js';
import { type CustomerChain, reading } from './chain.js';

/*
 * One transaction of the customer's wallet through the chain's TxSender, at a nonce fixed before the
 * first attempt: a retry after a lost receipt re-sends the same nonce (so the step is never done
 * twice), and a nonce the chain has moved past means an earlier attempt was mined ('already-done').
 * A wallet without gas money is told so (NO_GAS_MONEY), not left to a generic send failure.
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
  try {
    return await sender.send(
      label,
      () => build({ nonce }),
      async () => (await ch.provider.getTransactionCount(signer.address, 'latest')) > nonce,
    );
  } catch (e) {
    if (isAgentError(e, 'TX_FAILED') && isError(e.cause, 'INSUFFICIENT_FUNDS'))
      throw new CliError(
        'NO_GAS_MONEY',
        `${signer.address} cannot pay the gas of ${label}: fund it (defaas chain fund --to ${signer.address} --eth <n>)`,
        { address: signer.address, label },
        e,
      );
    throw e;
  }
}

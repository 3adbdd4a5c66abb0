import { type ContractTransactionResponse, toBeHex } from 'ethers';
import { type CustomerChain, reading } from './chain.js';
import { sendTx } from './send.js';

/*
 * Funding accounts from the deployer (which holds the token supply after `chain up`): DFS tokens by
 * `Token.transfer`, and gas money — on anvil by `anvil_setBalance` (the balance becomes exactly the
 * amount), elsewhere by an ETH transfer of the amount.
 */

export interface FundOptions {
  readonly to: readonly string[];
  /** Token base units to send to each. */
  readonly tokens: bigint;
  /** Wei of gas money for each (none when undefined). */
  readonly eth?: bigint;
}

export interface Funded {
  readonly address: string;
  readonly tokens: bigint;
  readonly eth: bigint;
  readonly txs: readonly string[];
}

/** Whether the endpoint is anvil (web3_clientVersion "anvil/v…"). */
export async function isAnvil(ch: CustomerChain): Promise<boolean> {
  const v = await reading(ch.rpc, () => ch.provider.send('web3_clientVersion', []) as Promise<unknown>).catch(
    (e: unknown) => {
      if ((e as { code?: unknown }).code === 'CHAIN_UNAVAILABLE') throw e;
      return undefined;
    },
  );
  return typeof v === 'string' && /^anvil\b/i.test(v);
}

export async function fund(
  ch: CustomerChain,
  o: FundOptions,
  progress: (line: string) => void,
): Promise<{ anvil: boolean; funded: Funded[] }> {
  const anvil = o.eth !== undefined && (await isAnvil(ch));
  const funded: Funded[] = [];
  for (const to of o.to) {
    const txs: string[] = [];
    if (o.eth !== undefined) {
      const eth = o.eth;
      if (anvil) {
        await reading(ch.rpc, () => ch.provider.send('anvil_setBalance', [to, toBeHex(eth)]));
        progress(`${to}: gas balance set to ${eth} wei (anvil_setBalance)`);
      } else if (eth > 0n) {
        // A plain transfer's response has every field TxSender reads (hash, to, from, data, value).
        const sent = await sendTx(
          ch,
          'ETH transfer',
          (ov) =>
            ch.signer!.sendTransaction({
              ...ov,
              to,
              value: eth,
            }) as Promise<unknown> as Promise<ContractTransactionResponse>,
        );
        if (sent !== 'already-done') txs.push(sent.hash);
        progress(`${to}: sent ${eth} wei for gas`);
      }
    }
    if (o.tokens > 0n) {
      const sent = await sendTx(ch, 'Token.transfer', (ov) => ch.token.transfer(to, o.tokens, ov));
      if (sent !== 'already-done') txs.push(sent.hash);
      progress(`${to}: sent ${o.tokens} token units`);
    }
    funded.push({
      address: to,
      tokens: await reading(ch.rpc, () => ch.token.balanceOf(to)),
      eth: await reading(ch.rpc, () => ch.provider.getBalance(to)),
      txs,
    });
  }
  return { anvil, funded };
}

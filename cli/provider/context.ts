import type { Logger } from 'pino';
import type { AgentChain } from '../../verifier/agent/chain.js';
import type { TxSender } from '../../verifier/agent/tx-sender.js';
import type { ProviderState } from './state.js';

/** What the provider agent's steps share: the chain (connected to the provider's wallet), one sender, the state. */
export interface ProviderContext {
  readonly ch: AgentChain;
  readonly sender: TxSender;
  readonly state: ProviderState;
  readonly log: Logger;
  /** The provider's address, lower-case. */
  readonly address: string;
  /** Rounds whose committee cannot be filled, already logged (once each). */
  readonly unfilledRounds: Set<bigint>;
}

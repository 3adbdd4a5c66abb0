// Hand-written (not generated): the sealed commitments of Market and WitnessPool, computed locally.
// Asking the contracts' `bidCommitment` / `verdictCommitment` views instead would send the secret price
// or verdict to the RPC node before the reveal. Checked against the contracts in
// test/contracts-lifecycle.test.ts.
import { AbiCoder, keccak256 } from 'ethers';
import type { WitnessPoolVerdict } from './enums.js';

const abi = AbiCoder.defaultAbiCoder();

/** `Market.bidCommitment`: keccak256(abi.encode(chainId, market, orderId, bidder, unitPrice, claimedGflops, salt)). */
export function bidCommitment(
  chainId: bigint,
  market: string,
  orderId: bigint,
  bidder: string,
  unitPrice: bigint,
  claimedGflops: bigint | number,
  salt: string,
): string {
  return keccak256(
    abi.encode(
      ['uint256', 'address', 'uint256', 'address', 'uint128', 'uint32', 'bytes32'],
      [chainId, market, orderId, bidder, unitPrice, claimedGflops, salt],
    ),
  );
}

/**
 * `WitnessPool.verdictCommitment`: keccak256(abi.encode(chainId, pool, leaseId, roundId, witness, verdict,
 * violationTime, evidenceHash, salt)); the lease id is the "sla" of ARCHITECTURE.md, `evidenceHash` the
 * hash of the witness's evidence bundle.
 */
export function verdictCommitment(
  chainId: bigint,
  pool: string,
  leaseId: bigint,
  roundId: bigint,
  witness: string,
  verdict: WitnessPoolVerdict,
  violationTime: bigint,
  evidenceHash: string,
  salt: string,
): string {
  return keccak256(
    abi.encode(
      ['uint256', 'address', 'uint256', 'uint256', 'address', 'uint8', 'uint64', 'bytes32', 'bytes32'],
      [chainId, pool, leaseId, roundId, witness, verdict, violationTime, evidenceHash, salt],
    ),
  );
}

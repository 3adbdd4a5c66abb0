import { FetchRequest, JsonRpcProvider, Network } from 'ethers';

/**
 * A JSON-RPC provider on a known chain whose every request times out after `timeoutMs`: an endpoint
 * that accepts and never answers fails (and is retried) instead of hanging (ethers' own default is 5
 * minutes).
 */
export function rpcProvider(
  url: string,
  chainId: bigint | number,
  timeoutMs: number,
  pollingInterval = 1000,
) {
  const request = new FetchRequest(url);
  request.timeout = timeoutMs;
  const network = Network.from(BigInt(chainId));
  return new JsonRpcProvider(request, network, { staticNetwork: network, cacheTimeout: -1, pollingInterval });
}

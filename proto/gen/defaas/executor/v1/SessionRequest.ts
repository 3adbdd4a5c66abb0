// Original file: proto/defaas/executor/v1/executor.proto

import type { DeployRequest as _defaas_executor_v1_DeployRequest, DeployRequest__Output as _defaas_executor_v1_DeployRequest__Output } from '../../../defaas/executor/v1/DeployRequest.js';
import type { InvokeRequest as _defaas_executor_v1_InvokeRequest, InvokeRequest__Output as _defaas_executor_v1_InvokeRequest__Output } from '../../../defaas/executor/v1/InvokeRequest.js';
import type { SettleRequest as _defaas_executor_v1_SettleRequest, SettleRequest__Output as _defaas_executor_v1_SettleRequest__Output } from '../../../defaas/executor/v1/SettleRequest.js';
import type { SyncRequest as _defaas_executor_v1_SyncRequest, SyncRequest__Output as _defaas_executor_v1_SyncRequest__Output } from '../../../defaas/executor/v1/SyncRequest.js';
import type { UndeployRequest as _defaas_executor_v1_UndeployRequest, UndeployRequest__Output as _defaas_executor_v1_UndeployRequest__Output } from '../../../defaas/executor/v1/UndeployRequest.js';
import type { ChallengeRequest as _defaas_executor_v1_ChallengeRequest, ChallengeRequest__Output as _defaas_executor_v1_ChallengeRequest__Output } from '../../../defaas/executor/v1/ChallengeRequest.js';
import type { ChallengeOpenRequest as _defaas_executor_v1_ChallengeOpenRequest, ChallengeOpenRequest__Output as _defaas_executor_v1_ChallengeOpenRequest__Output } from '../../../defaas/executor/v1/ChallengeOpenRequest.js';

export interface SessionRequest {
  'deploy'?: (_defaas_executor_v1_DeployRequest | null);
  'invoke'?: (_defaas_executor_v1_InvokeRequest | null);
  'settle'?: (_defaas_executor_v1_SettleRequest | null);
  'sync'?: (_defaas_executor_v1_SyncRequest | null);
  'undeploy'?: (_defaas_executor_v1_UndeployRequest | null);
  'challenge'?: (_defaas_executor_v1_ChallengeRequest | null);
  'challengeOpen'?: (_defaas_executor_v1_ChallengeOpenRequest | null);
  'body'?: "deploy"|"invoke"|"settle"|"sync"|"undeploy"|"challenge"|"challengeOpen";
}

export interface SessionRequest__Output {
  'deploy'?: (_defaas_executor_v1_DeployRequest__Output | null);
  'invoke'?: (_defaas_executor_v1_InvokeRequest__Output | null);
  'settle'?: (_defaas_executor_v1_SettleRequest__Output | null);
  'sync'?: (_defaas_executor_v1_SyncRequest__Output | null);
  'undeploy'?: (_defaas_executor_v1_UndeployRequest__Output | null);
  'challenge'?: (_defaas_executor_v1_ChallengeRequest__Output | null);
  'challengeOpen'?: (_defaas_executor_v1_ChallengeOpenRequest__Output | null);
  'body'?: "deploy"|"invoke"|"settle"|"sync"|"undeploy"|"challenge"|"challengeOpen";
}

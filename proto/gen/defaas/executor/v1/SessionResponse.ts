// Original file: proto/defaas/executor/v1/executor.proto

import type { DeployResponse as _defaas_executor_v1_DeployResponse, DeployResponse__Output as _defaas_executor_v1_DeployResponse__Output } from '../../../defaas/executor/v1/DeployResponse.js';
import type { InvokeResponse as _defaas_executor_v1_InvokeResponse, InvokeResponse__Output as _defaas_executor_v1_InvokeResponse__Output } from '../../../defaas/executor/v1/InvokeResponse.js';
import type { SettleResponse as _defaas_executor_v1_SettleResponse, SettleResponse__Output as _defaas_executor_v1_SettleResponse__Output } from '../../../defaas/executor/v1/SettleResponse.js';
import type { SyncResponse as _defaas_executor_v1_SyncResponse, SyncResponse__Output as _defaas_executor_v1_SyncResponse__Output } from '../../../defaas/executor/v1/SyncResponse.js';
import type { ErrorDetail as _defaas_executor_v1_ErrorDetail, ErrorDetail__Output as _defaas_executor_v1_ErrorDetail__Output } from '../../../defaas/executor/v1/ErrorDetail.js';
import type { UndeployResponse as _defaas_executor_v1_UndeployResponse, UndeployResponse__Output as _defaas_executor_v1_UndeployResponse__Output } from '../../../defaas/executor/v1/UndeployResponse.js';
import type { ChallengeCommitment as _defaas_executor_v1_ChallengeCommitment, ChallengeCommitment__Output as _defaas_executor_v1_ChallengeCommitment__Output } from '../../../defaas/executor/v1/ChallengeCommitment.js';
import type { ChallengeOpenResponse as _defaas_executor_v1_ChallengeOpenResponse, ChallengeOpenResponse__Output as _defaas_executor_v1_ChallengeOpenResponse__Output } from '../../../defaas/executor/v1/ChallengeOpenResponse.js';

export interface SessionResponse {
  'deploy'?: (_defaas_executor_v1_DeployResponse | null);
  'invoke'?: (_defaas_executor_v1_InvokeResponse | null);
  'settle'?: (_defaas_executor_v1_SettleResponse | null);
  'sync'?: (_defaas_executor_v1_SyncResponse | null);
  'error'?: (_defaas_executor_v1_ErrorDetail | null);
  'undeploy'?: (_defaas_executor_v1_UndeployResponse | null);
  'challenge'?: (_defaas_executor_v1_ChallengeCommitment | null);
  'challengeOpen'?: (_defaas_executor_v1_ChallengeOpenResponse | null);
  'body'?: "deploy"|"invoke"|"settle"|"sync"|"error"|"undeploy"|"challenge"|"challengeOpen";
}

export interface SessionResponse__Output {
  'deploy'?: (_defaas_executor_v1_DeployResponse__Output | null);
  'invoke'?: (_defaas_executor_v1_InvokeResponse__Output | null);
  'settle'?: (_defaas_executor_v1_SettleResponse__Output | null);
  'sync'?: (_defaas_executor_v1_SyncResponse__Output | null);
  'error'?: (_defaas_executor_v1_ErrorDetail__Output | null);
  'undeploy'?: (_defaas_executor_v1_UndeployResponse__Output | null);
  'challenge'?: (_defaas_executor_v1_ChallengeCommitment__Output | null);
  'challengeOpen'?: (_defaas_executor_v1_ChallengeOpenResponse__Output | null);
  'body'?: "deploy"|"invoke"|"settle"|"sync"|"error"|"undeploy"|"challenge"|"challengeOpen";
}

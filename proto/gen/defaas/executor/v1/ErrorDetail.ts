// Original file: proto/defaas/executor/v1/executor.proto

import type { FunctionOutput as _defaas_executor_v1_FunctionOutput, FunctionOutput__Output as _defaas_executor_v1_FunctionOutput__Output } from '../../../defaas/executor/v1/FunctionOutput.js';
import type { CallOutcome as _defaas_executor_v1_CallOutcome, CallOutcome__Output as _defaas_executor_v1_CallOutcome__Output } from '../../../defaas/executor/v1/CallOutcome.js';

export interface ErrorDetail {
  'code'?: (string);
  'message'?: (string);
  'infoJson'?: (string);
  'functionOutput'?: (_defaas_executor_v1_FunctionOutput | null);
  'callOutcome'?: (_defaas_executor_v1_CallOutcome);
}

export interface ErrorDetail__Output {
  'code': (string);
  'message': (string);
  'infoJson': (string);
  'functionOutput': (_defaas_executor_v1_FunctionOutput__Output | null);
  'callOutcome': (_defaas_executor_v1_CallOutcome__Output);
}

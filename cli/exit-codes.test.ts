import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { AttestationError } from '../attestation/errors.js';
import { EnclaveHostError } from '../enclave-host/errors.js';
import { SessionError } from '../protocol/errors.js';
import { DefaasError } from '../sdk/errors.js';
import { CliError, UsageError } from './errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { errorFields, jsonValue } from './output.js';

describe('one exit-code table for the errors of every folder', () => {
  it.each([
    // attestation: policy refusals apart from failed verification
    ['AttestationError policy', new AttestationError('POLICY_TCB_STATUS', 'x'), EXIT.REFUSED],
    ['AttestationError verification', new AttestationError('QUOTE_SIGNATURE_INVALID', 'x'), 1],
    ['AttestationError malformed', new AttestationError('QUOTE_TRUNCATED', 'x'), 1],
    ['AttestationError transient', new AttestationError('COLLATERAL_UNAVAILABLE', 'x'), EXIT.TRANSIENT],
    ['AttestationError usage', new AttestationError('INVALID_ARGUMENT', 'x'), EXIT.USAGE],
    // the SDK folds the attestation kinds into `attestation`: the code tells policy from verification
    ['DefaasError attestation (policy)', new DefaasError('POLICY_TEE_NOT_ALLOWED', 'x'), EXIT.REFUSED],
    ['DefaasError attestation (verification)', new DefaasError('SIM_SIGNATURE_INVALID', 'x'), 1],
    ['DefaasError protocol', new DefaasError('IDENTITY_MISMATCH', 'x'), EXIT.VERIFICATION_FAILED],
    ['DefaasError rejected', new DefaasError('TERMS_MISMATCH', 'x'), EXIT.REFUSED],
    ['DefaasError function', new DefaasError('FUNCTION_EXIT_NONZERO', 'x'), EXIT.FUNCTION_FAILED],
    ['DefaasError transient', new DefaasError('TRANSPORT_UNAVAILABLE', 'x'), EXIT.TRANSIENT],
    ['DefaasError usage', new DefaasError('SDK_INVALID_ARGUMENT', 'x'), EXIT.USAGE],
    ['SessionError session', new SessionError('SESSION_EXPIRED', 'x'), EXIT.TRANSIENT],
    ['SessionError rejected', new SessionError('LEASE_NOT_ACTIVE', 'x'), EXIT.REFUSED],
    ['SessionError verification', new SessionError('FRAME_AUTH_FAILED', 'x'), 1],
    ['EnclaveHostError function', new EnclaveHostError('FUNCTION_TIMEOUT', 'x'), EXIT.FUNCTION_FAILED],
    ['EnclaveHostError unavailable', new EnclaveHostError('QUOTE_PROVIDER_UNAVAILABLE', 'x'), 3],
    ['EnclaveHostError usage', new EnclaveHostError('INVALID_ARGUMENT', 'x'), EXIT.USAGE],
    ['UsageError', new UsageError('x', 'FILE_NOT_FOUND'), EXIT.USAGE],
    ['CliError transient', new CliError('CHAIN_UNAVAILABLE', 'x'), EXIT.TRANSIENT],
    ['commander usage', new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'"), 2],
    ['commander --help', new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'), EXIT.OK],
    ['an untyped error', new TypeError('boom'), EXIT.INTERNAL],
    ['a thrown string', 'boom', EXIT.INTERNAL],
  ] as const)('%s', (_name, e, code) => {
    expect(exitCodeFor(e)).toBe(code);
  });

  it('the codes are distinct, and internal is apart from every kind', () => {
    expect(new Set(Object.values(EXIT)).size).toBe(Object.keys(EXIT).length);
    expect(EXIT.INTERNAL).toBe(70);
  });
});

describe('the failure fields', () => {
  it('keep the code and kind, drop the repeated CODE: prefix, and render info as JSON values', () => {
    const e = new DefaasError('IDENTITY_MISMATCH', 'the enclave is 0xab, not 0xcd', {
      expected: '0xcd',
      n: 5n,
    });
    expect(e.message).toBe('IDENTITY_MISMATCH: the enclave is 0xab, not 0xcd');
    expect(errorFields(e)).toEqual({
      code: 'IDENTITY_MISMATCH',
      kind: 'protocol',
      message: 'the enclave is 0xab, not 0xcd',
      info: { expected: '0xcd', n: '5' },
    });
    expect(errorFields(new AttestationError('POLICY_DEBUG', 'debug on'))).toEqual({
      code: 'POLICY_DEBUG',
      kind: 'policy',
      message: 'debug on',
    });
    expect(errorFields(new CommanderError(1, 'commander.invalidArgument', 'error: bad'))).toEqual({
      code: 'INVALID_ARGUMENT',
      kind: 'usage',
      message: 'bad',
    });
    expect(errorFields(new RangeError('oops'))).toEqual({
      code: 'INTERNAL',
      kind: 'internal',
      message: 'oops',
    });
  });
});

describe('JSON values', () => {
  it('bigint → decimal string, bytes → 0x-hex, Date → RFC 3339, undefined fields dropped', () => {
    expect(
      jsonValue({
        a: 2n ** 255n,
        b: new Uint8Array([0, 0xab]),
        c: [1n, new Uint8Array([])],
        d: new Date('2025-07-01T00:00:00Z'),
        e: undefined,
        f: { g: null, h: 'x' },
      }),
    ).toEqual({
      a: (2n ** 255n).toString(),
      b: '0x00ab',
      c: ['1', '0x'],
      d: '2025-07-01T00:00:00.000Z',
      f: { g: null, h: 'x' },
    });
  });
});

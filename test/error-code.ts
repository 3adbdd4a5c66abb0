import { CodedError } from '../attestation/errors.js';
import {
  type EnclaveHostError,
  type EnclaveHostErrorCode,
  isEnclaveHostError,
} from '../enclave-host/errors.js';

/*
 * For tests that expect a refusal: the stable code of the typed error thrown (attestation, session,
 * enclave host or SDK), 'ok' when nothing was thrown, and 'crash: …' for anything untyped, so that an
 * untyped failure never passes for the expected one.
 */

function codeOfError(e: unknown): string {
  if (e instanceof CodedError) return e.code;
  return `crash: ${String(e)}`;
}

export function codeOf(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    return codeOfError(e);
  }
}

export async function codeOfAsync(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return codeOfError(e);
  }
}

/** Awaits `p`, which must fail with the enclave host's typed error `code`; returns that error. */
export async function expectEnclaveHostError(
  p: Promise<unknown>,
  code: EnclaveHostErrorCode,
): Promise<EnclaveHostError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isEnclaveHostError(err, code)) throw new Error(`expected ${code}, got ${String(err)}`);
  return err;
}

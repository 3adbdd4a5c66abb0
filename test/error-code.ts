import { CodedError } from '../attestation/errors.js';

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

import { expect } from 'vitest';
import { isLogError, type LogErrorCode } from './errors.js';

/** For the log's tests: `f` must throw a LogError with `code` (anything else fails the test). */
export function expectCode(f: () => unknown, code: LogErrorCode): void {
  try {
    f();
  } catch (e) {
    expect(isLogError(e) ? e.code : e).toBe(code);
    return;
  }
  expect.unreachable(`expected ${code}`);
}

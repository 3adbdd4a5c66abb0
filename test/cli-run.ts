import { expect, vi } from 'vitest';
import { main } from '../cli/main.js';

/** Runs `defaas …` in-process (cli/main.ts) and captures what it prints on stdout and stderr. */
export async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  try {
    const code = await main(['node', 'defaas', ...args]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}

/** stdout under --json: exactly one JSON object on one line, nothing else (typed as `T` for the test). */
export function onlyJson<T = Record<string, unknown>>(stdout: string): T & { ok: boolean } {
  expect(stdout.endsWith('\n'), `stdout does not end with a newline: ${stdout}`).toBe(true);
  const lines = stdout.slice(0, -1).split('\n');
  expect(lines, `stdout holds more than one line: ${stdout}`).toHaveLength(1);
  const o = JSON.parse(lines[0]!) as unknown;
  expect(typeof o === 'object' && o !== null && !Array.isArray(o), stdout).toBe(true);
  expect(typeof (o as { ok?: unknown }).ok).toBe('boolean');
  return o as T & { ok: boolean };
}

/** A failure object under --json: {ok: false, code, kind, message, info?, ...}. */
export function expectFailure(
  stdout: string,
  code: string,
  kind: string,
): Record<string, unknown> & { ok: boolean } {
  const o = onlyJson(stdout);
  expect(o, JSON.stringify(o)).toMatchObject({ ok: false, code, kind });
  expect(typeof o.message).toBe('string');
  if ('info' in o) expect(typeof o.info).toBe('object');
  return o;
}

import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseArgs, SECTIONS } from './run.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describe('experiments runner', () => {
  it('lists its sections on --help', () => {
    const p = parseArgs(['--', '--help'], Object.keys(SECTIONS));
    expect(p.kind).toBe('help');
    expect(p.kind === 'help' && p.text).toContain('witness');
  });

  it('runs every section when none is named, or the named ones', () => {
    expect(parseArgs([], ['a', 'b'])).toEqual({ kind: 'run', names: ['a', 'b'] });
    expect(parseArgs(['--', 'b'], ['a', 'b'])).toEqual({ kind: 'run', names: ['b'] });
  });

  it('rejects an unknown section with exit code 2 and names the known ones', () => {
    expect(parseArgs(['nope'], ['witness'])).toEqual({
      kind: 'error',
      text: 'unknown experiment section(s): nope; sections: witness',
    });
    const r = spawnSync(process.execPath, ['bin/run-ts.mjs', 'experiments/run.ts', 'nope'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown experiment section(s): nope');
  });
});

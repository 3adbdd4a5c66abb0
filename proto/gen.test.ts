import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadProtos, sessionCodec } from './load.js';

/** The generated types in proto/gen/ are what proto-loader-gen-types makes of the .proto files today. */

const protoDir = fileURLToPath(new URL('.', import.meta.url));

function walk(d: string): string[] {
  return readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

describe('proto', () => {
  it('proto/gen is in sync with the .proto files (run `node proto/scripts/generate.mjs` to update)', () => {
    const out = mkdtempSync(join(tmpdir(), 'defaas-proto-gen-'));
    try {
      execFileSync(process.execPath, [join(protoDir, 'scripts', 'generate.mjs'), out], { stdio: 'pipe' });
      const committed = join(protoDir, 'gen');
      const a = walk(committed)
        .map((f) => relative(committed, f))
        .sort();
      const b = walk(out)
        .map((f) => relative(out, f))
        .sort();
      expect(b).toEqual(a);
      for (const f of a)
        expect(readFileSync(join(out, f), 'utf8'), f).toBe(readFileSync(join(committed, f), 'utf8'));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);

  it('loads the executor and health services with 64-bit integers as strings and bytes as Buffer', () => {
    const { executor, health } = loadProtos();
    expect(Object.keys(executor.defaas.executor.v1.Executor.service)).toEqual([
      'GetEvidence',
      'OpenSession',
      'Deploy',
      'Invoke',
      'Settle',
      'Sync',
      'Undeploy',
      'InvokeStream',
      'Challenge',
    ]);
    expect(Object.keys(health.grpc.health.v1.Health.service)).toEqual(['Check', 'List', 'Watch']);
    const c = sessionCodec();
    const m = c.decodeRequest(
      c.encodeRequest({ invoke: { nonce: '18446744073709551615', input: Buffer.from([1, 2]) } }),
    );
    expect(m.body).toBe('invoke');
    expect(m.invoke?.nonce).toBe('18446744073709551615');
    expect(Buffer.isBuffer(m.invoke?.input)).toBe(true);
    expect(() => c.decodeRequest(Buffer.from([0x12, 0xff, 0xff]))).toThrow();
  });
});

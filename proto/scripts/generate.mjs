#!/usr/bin/env node
// Regenerates proto/gen/ from the .proto files with proto-loader-gen-types, using the same options
// as the run-time loader (proto/load.ts): camelCase fields, 64-bit integers as decimal strings,
// enums as strings, bytes as Buffer, defaults and virtual oneof fields on output. The output is kept
// as generated (biome.json leaves proto/gen alone), so proto/gen.test.ts can diff a fresh generation
// against the committed one.
//
// usage: node proto/scripts/generate.mjs [outDir]     (default: proto/gen)
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const protoDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(protoDir, '..');
const outDir = resolve(process.argv[2] ?? join(protoDir, 'gen'));
export const PROTO_FILES = ['defaas/executor/v1/executor.proto', 'grpc/health/v1/health.proto'];

rmSync(outDir, { recursive: true, force: true });
const bin = join(repo, 'node_modules', '@grpc', 'proto-loader', 'build', 'bin', 'proto-loader-gen-types.js');
execFileSync(
  process.execPath,
  [
    bin,
    '--longs=String',
    '--enums=String',
    '--defaults',
    '--oneofs',
    '--grpcLib=@grpc/grpc-js',
    '--importFileExtension=.js',
    '-I',
    protoDir,
    '-O',
    outDir,
    ...PROTO_FILES,
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);

function walk(d) {
  return readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
// The generator writes the path it was given into each file; keep it repository-relative.
for (const f of walk(outDir).filter((x) => x.endsWith('.ts'))) {
  const text = readFileSync(f, 'utf8').replace(
    /^\/\/ Original file: .*?proto\/(?=defaas|grpc)/gm,
    '// Original file: proto/',
  );
  writeFileSync(f, text);
}

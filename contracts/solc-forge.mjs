#!/usr/bin/env node
// solc command-line shim for forge (TOOLCHAIN.md, "Solidity tests"): forge cannot download a compiler
// offline, so foundry.toml points `solc` here and we answer with the npm `solc` package (solc-js).
// Supports exactly what forge uses: `--version` and `--standard-json` (input on stdin), with
// `--base-path` / `--include-path` / `--allow-paths` honoured by the import callback.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const solc = require('solc');
const args = process.argv.slice(2);

if (args.includes('--version')) {
  const v = solc.version().replace('Emscripten.clang', 'Linux.g++');
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${v}\n`);
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  process.stderr.write('solc-forge: only --version and --standard-json are supported\n');
  process.exit(2);
}
const roots = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--base-path' || args[i] === '--include-path') roots.push(resolve(args[i + 1] ?? '.'));
}
roots.push(process.cwd());
function findImports(path) {
  const candidates = isAbsolute(path) ? [path] : roots.map((r) => join(r, path));
  for (const c of candidates) {
    try {
      return { contents: readFileSync(c, 'utf8') };
    } catch {}
  }
  return { error: `not found: ${path}` };
}
const input = readFileSync(0, 'utf8');
process.stdout.write(solc.compile(input, { import: findImports }));

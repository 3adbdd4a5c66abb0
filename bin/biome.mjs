#!/usr/bin/env node
// Runs Biome (lint + format) from its Linux x64 binary package. The `@biomejs/biome` wrapper is not
// used: it lists platform packages that this registry does not serve (404), which breaks `npm ci`.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
let binary;
try {
  binary = join(dirname(require.resolve('@biomejs/cli-linux-x64/package.json')), 'biome');
} catch {
  console.error(
    `biome: the @biomejs/cli-linux-x64 package is not installed (this is ${process.platform}-${process.arch}); ` +
      'lint and format run on Linux x64 (glibc) only.',
  );
  process.exit(2);
}
const r = spawnSync(binary, process.argv.slice(2), { stdio: 'inherit' });
if (r.error) {
  console.error(`biome: cannot run ${binary}: ${r.error.message}`);
  process.exit(2);
}
process.exit(r.status ?? 1);

import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { buildExample, EXAMPLE_NAMES } from './build-example.js';

/**
 * Builds every example to `examples/build/<name>.wasm` and prints its function id (SHA-256 of the
 * module bytes, the id the runtime assigns). Run: `npx tsx examples/build.ts`.
 */
const outDir = new URL('./build/', import.meta.url);
await mkdir(outDir, { recursive: true });
for (const name of EXAMPLE_NAMES) {
  const wasm = await buildExample(name);
  await writeFile(new URL(`${name}.wasm`, outDir), wasm);
  const id = createHash('sha256').update(wasm).digest('hex');
  process.stdout.write(`${name}.wasm ${wasm.length} bytes sha256 ${id}\n`);
}

import { readFile, writeFile } from 'node:fs/promises';
import wabt from 'wabt';

/**
 * Compiles `matmul.wat` to `matmul.wasm` (the binary the engine loads; committed, so the executor
 * needs no build tool at run time). Deterministic: no debug names, canonical LEBs. Run:
 * `npm run build:wasm` (writes this and the witness's verifier/freivalds.wasm) or this file with
 * `--check` (exit 1 when the committed binary is not what the source compiles to).
 */

export const MATMUL_WAT_URL = new URL('./matmul.wat', import.meta.url);
export const MATMUL_WASM_URL = new URL('./matmul.wasm', import.meta.url);

/** The post-MVP features the kernel uses: SIMD and a shared memory. */
const FEATURES = { simd: true, threads: true } as const;

export async function compileMatmulWat(): Promise<Uint8Array> {
  const kit = await wabt();
  const mod = kit.parseWat('matmul.wat', await readFile(MATMUL_WAT_URL, 'utf8'), FEATURES);
  try {
    mod.resolveNames();
    // wabt checks features again at validation (its typings omit the argument)
    (mod.validate as (features: typeof FEATURES) => void)(FEATURES);
    const { buffer } = mod.toBinary({ canonicalize_lebs: true, write_debug_names: false });
    return new Uint8Array(buffer);
  } finally {
    mod.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const wasm = await compileMatmulWat();
  if (process.argv.includes('--check')) {
    const committed = new Uint8Array(await readFile(MATMUL_WASM_URL));
    if (Buffer.compare(committed, wasm) !== 0) {
      process.stderr.write('matmul.wasm is stale: run npm run build:wasm\n');
      process.exit(1);
    }
  } else {
    await writeFile(MATMUL_WASM_URL, wasm);
    process.stdout.write(`matmul.wasm ${wasm.length} bytes\n`);
  }
}

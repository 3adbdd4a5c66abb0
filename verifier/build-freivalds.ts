import { readFile, writeFile } from 'node:fs/promises';
import wabt from 'wabt';

/**
 * Compiles `freivalds.wat` to `freivalds.wasm` (the binary freivalds-wasm.ts loads; committed, so the
 * witness needs no build tool at run time). Deterministic: no debug names, canonical LEBs. Run:
 * `npm run build:wasm` (writes this and the executor's matmul.wasm) or this file with `--check`
 * (exit 1 when the committed binary is not what the source compiles to).
 */

export const FREIVALDS_WAT_URL = new URL('./freivalds.wat', import.meta.url);
export const FREIVALDS_WASM_URL = new URL('./freivalds.wasm', import.meta.url);

/** The post-MVP feature the kernel uses. */
const FEATURES = { simd: true } as const;

export async function compileFreivaldsWat(): Promise<Uint8Array> {
  const kit = await wabt();
  const mod = kit.parseWat('freivalds.wat', await readFile(FREIVALDS_WAT_URL, 'utf8'), FEATURES);
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
  const wasm = await compileFreivaldsWat();
  if (process.argv.includes('--check')) {
    const committed = new Uint8Array(await readFile(FREIVALDS_WASM_URL));
    if (Buffer.compare(committed, wasm) !== 0) {
      process.stderr.write('freivalds.wasm is stale: run npm run build:wasm\n');
      process.exit(1);
    }
  } else {
    await writeFile(FREIVALDS_WASM_URL, wasm);
    process.stdout.write(`freivalds.wasm ${wasm.length} bytes\n`);
  }
}

import { readFile, writeFile } from 'node:fs/promises';
import { compileWat, type WatFeatures } from './build-example.js';

/*
 * The WebAssembly kernels that ship as committed binaries, so nothing builds at run time: the
 * executor's matrix product (enclave-host/challenge/matmul.wat) and the witness's Freivalds check
 * (verifier/freivalds.wat), compiled by the same `compileWat` as the examples. Run:
 * `npm run build:wasm` (writes both) or with `--check` (exit 1 when a committed binary is not what
 * its source compiles to). The tests beside each kernel check the same.
 */

export interface Kernel {
  readonly name: string;
  readonly wat: URL;
  readonly wasm: URL;
  readonly features: WatFeatures;
}

export const KERNELS = {
  matmul: {
    name: 'matmul',
    wat: new URL('../enclave-host/challenge/matmul.wat', import.meta.url),
    wasm: new URL('../enclave-host/challenge/matmul.wasm', import.meta.url),
    features: { simd: true, threads: true },
  },
  freivalds: {
    name: 'freivalds',
    wat: new URL('../verifier/freivalds.wat', import.meta.url),
    wasm: new URL('../verifier/freivalds.wasm', import.meta.url),
    features: { simd: true },
  },
} as const satisfies Record<string, Kernel>;

export async function compileKernel(k: Kernel): Promise<Uint8Array> {
  return compileWat(`${k.name}.wat`, await readFile(k.wat, 'utf8'), k.features);
}

/** Is the committed binary what the source compiles to? */
export async function kernelIsFresh(k: Kernel): Promise<boolean> {
  return Buffer.from(await readFile(k.wasm)).equals(Buffer.from(await compileKernel(k)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const check = process.argv.includes('--check');
  for (const k of Object.values(KERNELS)) {
    if (check) {
      if (!(await kernelIsFresh(k))) {
        process.stderr.write(`${k.name}.wasm is stale: run npm run build:wasm\n`);
        process.exit(1);
      }
    } else {
      const wasm = await compileKernel(k);
      await writeFile(k.wasm, wasm);
      process.stdout.write(`${k.name}.wasm ${wasm.length} bytes\n`);
    }
  }
}

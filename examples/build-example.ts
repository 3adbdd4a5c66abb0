import { readFile } from 'node:fs/promises';
import wabt from 'wabt';

/**
 * Compiles an example function from its WAT source in-process with `wabt` (the npm package, a
 * WebAssembly build of the WebAssembly Binary Toolkit), so tests need no build step. The same
 * function backs `examples/build.ts`, so a test runs exactly the bytes a build writes.
 */

/** Every example, by the base name of its `examples/<name>.wat` source. */
export const EXAMPLE_NAMES = [
  'echo',
  'sha256',
  'transform',
  'matmul',
  'infinite-loop',
  'memory-bomb',
  'trap',
  'exit-nonzero',
  'spew',
  'greet',
] as const;
export type ExampleName = (typeof EXAMPLE_NAMES)[number];

let toolkit: ReturnType<typeof wabt> | undefined;

export function exampleSourceUrl(name: ExampleName): URL {
  return new URL(`./${name}.wat`, import.meta.url);
}

/** wabt's post-MVP feature switches (parseWat's third argument). */
export type WatFeatures = Parameters<Awaited<ReturnType<typeof wabt>>['parseWat']>[2];

/** WAT → wasm bytes. Deterministic: no debug names, canonical LEBs. */
export async function compileWat(
  fileName: string,
  source: string,
  features?: WatFeatures,
): Promise<Uint8Array> {
  toolkit ??= wabt();
  const kit = await toolkit;
  const all = { bulk_memory: true, ...features };
  const mod = kit.parseWat(fileName, source, all);
  try {
    mod.resolveNames();
    // wabt checks the features again at validation (its typings omit the argument)
    (mod.validate as (f: typeof all) => void)(all);
    const { buffer } = mod.toBinary({ canonicalize_lebs: true, write_debug_names: false });
    return new Uint8Array(buffer);
  } finally {
    mod.destroy();
  }
}

export async function buildExample(name: ExampleName): Promise<Uint8Array> {
  if (!(EXAMPLE_NAMES as readonly string[]).includes(name)) throw new Error(`unknown example: ${name}`);
  return compileWat(`${name}.wat`, await readFile(exampleSourceUrl(name), 'utf8'));
}

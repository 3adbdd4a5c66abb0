import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

/**
 * Compiles an AssemblyScript example to a WASI preview 1 command in-process (the `assemblyscript`
 * devDependency with `@assemblyscript/wasi-shim`'s config, the same options as the command in
 * examples/README.md), so tests need no build step and no binary is checked in.
 */

/** The AssemblyScript examples, by the base name of their `examples/as/assembly/<name>.ts` source. */
export const AS_EXAMPLE_NAMES = ['envinfo'] as const;
export type AsExampleName = (typeof AS_EXAMPLE_NAMES)[number];

/** Paths given to asc are relative to the repository root, whatever the working directory. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WASI_SHIM_CONFIG = 'node_modules/@assemblyscript/wasi-shim/asconfig.json';

export async function compileAsExample(name: AsExampleName): Promise<Uint8Array> {
  if (!(AS_EXAMPLE_NAMES as readonly string[]).includes(name)) throw new Error(`unknown example: ${name}`);
  let wasm: Uint8Array | undefined;
  const diagnostics: string[] = [];
  const { error } = await asc.main(
    [
      `examples/as/assembly/${name}.ts`,
      '--config',
      WASI_SHIM_CONFIG,
      '-O3',
      '--runtime',
      'stub',
      '--outFile',
      `${name}.wasm`,
    ],
    {
      readFile: (file, baseDir) => readFile(resolve(ROOT, baseDir, file), 'utf8').catch(() => null),
      listFiles: (dir, baseDir) =>
        readdir(join(resolve(ROOT, baseDir), dir)).then(
          (names) => names.filter((n) => n.endsWith('.ts') && !n.endsWith('.d.ts')),
          () => null,
        ),
      writeFile: (file, contents) => {
        if (file.endsWith('.wasm') && typeof contents !== 'string') wasm = contents;
      },
      stdout: { write: () => true },
      stderr: {
        write: (chunk) => {
          diagnostics.push(String(chunk));
          return true;
        },
      },
    },
  );
  if (error !== null || wasm === undefined) {
    throw new Error(`asc failed for ${name}: ${error?.message ?? 'no output'}\n${diagnostics.join('')}`);
  }
  return wasm;
}

/*
 * Runs forge (npm package @foundry-rs/forge-linux-amd64) in contracts/, offline, with the npm solc
 * behind solc-forge.mjs (foundry.toml). Arguments pass through:
 *   npx tsx contracts/forge.ts test                      # default profile (fast)
 *   FOUNDRY_PROFILE=deep npx tsx contracts/forge.ts test # long fuzz and invariant campaigns
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONTRACTS_DIR = dirname(fileURLToPath(import.meta.url));

/** Path of the forge binary; throws a clear error off linux-x64 or when the package is missing. */
export function forgePath(): string {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `forge is packaged here for linux-x64 only (this is ${process.platform}-${process.arch})`,
    );
  }
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = dirname(require.resolve('@foundry-rs/forge-linux-amd64/package.json'));
  } catch (cause) {
    throw new Error('@foundry-rs/forge-linux-amd64 is not installed (optional dependency); run npm ci', {
      cause,
    });
  }
  const bin = join(pkg, 'bin', 'forge');
  if (!existsSync(bin)) throw new Error(`forge binary missing at ${bin}`);
  return bin;
}

/** Runs forge synchronously in contracts/ and returns its exit status and output. */
export function runForge(args: readonly string[], inherit = false): { status: number; output: string } {
  const r = spawnSync(forgePath(), [...args], {
    cwd: CONTRACTS_DIR,
    encoding: 'utf8',
    stdio: inherit ? 'inherit' : 'pipe',
    env: { ...process.env, FOUNDRY_DISABLE_NIGHTLY_WARNING: '1' },
  });
  return { status: r.status ?? 1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = runForge(process.argv.slice(2), true).status;
}

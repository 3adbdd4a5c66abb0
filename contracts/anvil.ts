/*
 * Starts the embedded dev chain: anvil from the npm package @foundry-rs/anvil-linux-amd64
 * (TOOLCHAIN.md, "local chain"), on 127.0.0.1 and a free port chosen by anvil itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface Anvil {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Settles when the anvil process exits (for whatever reason). */
  readonly exited: Promise<void>;
  /** Stops this anvil (only its own process) and waits for it to exit. */
  stop(): Promise<void>;
}

export interface AnvilOptions {
  /** Chain id (anvil's default is 31337). */
  readonly chainId?: number;
  /** Seconds per block; by default every transaction is mined at once. */
  readonly blockTime?: number;
  /** Extra command-line arguments. */
  readonly args?: readonly string[];
  /** How long to wait for "Listening on"; default 15 s. */
  readonly timeoutMs?: number;
}

/** Path of the anvil binary; throws a clear error off linux-x64 or when the package is missing. */
export function anvilPath(): string {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `the embedded anvil is packaged for linux-x64 only (this is ${process.platform}-${process.arch}); install anvil yourself and pass --rpc <url>`,
    );
  }
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = dirname(require.resolve('@foundry-rs/anvil-linux-amd64/package.json'));
  } catch (cause) {
    throw new Error(
      '@foundry-rs/anvil-linux-amd64 is not installed (it is an optional dependency); run npm ci',
      { cause },
    );
  }
  const bin = join(pkg, 'bin', 'anvil');
  if (!existsSync(bin)) throw new Error(`anvil binary missing at ${bin}`);
  return bin;
}

/** Starts anvil on 127.0.0.1:0 and resolves once it listens. */
export function startAnvil(options: AnvilOptions = {}): Promise<Anvil> {
  const args = ['--host', '127.0.0.1', '--port', '0'];
  if (options.chainId !== undefined) args.push('--chain-id', String(options.chainId));
  if (options.blockTime !== undefined) args.push('--block-time', String(options.blockTime));
  args.push(...(options.args ?? []));
  const child: ChildProcess = spawn(anvilPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const timeoutMs = options.timeoutMs ?? 15_000;
  return new Promise<Anvil>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`anvil did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const exited = new Promise<void>((res) => child.once('exit', () => res()));
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stdout?.resume(); // keep draining so anvil never blocks on a full pipe
      child.stderr?.resume();
      const port = Number(m[1]);
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        pid: child.pid ?? -1,
        exited,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`anvil exited with ${code} before listening:\n${out}`));
    });
  });
}

import { Worker } from 'node:worker_threads';
import type { RunRequest, RunResult } from './messages.js';
import { wasmApi } from './wasm-api.js';

/**
 * For tests: runs one module in a fresh `worker.mjs`, spoken to directly through the message contract
 * of messages.ts (no pool, no admission by prepare-module.ts), and returns its RunResult.
 */
export async function runInWorker(
  wasm: Uint8Array,
  opts: { input?: Uint8Array; maxOutputBytes?: number; maxLogBytes?: number } = {},
): Promise<RunResult> {
  const module = await wasmApi.compile(wasm);
  const worker = new Worker(new URL('./worker.mjs', import.meta.url));
  try {
    return await new Promise<RunResult>((resolve, reject) => {
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`worker exited with code ${code}`)));
      worker.on('message', (msg: { type: string }) => {
        if (msg.type !== 'ready') {
          resolve(msg as RunResult);
          return;
        }
        const req: RunRequest = {
          type: 'run',
          id: 1,
          module,
          input: opts.input ?? new Uint8Array(0),
          maxOutputBytes: opts.maxOutputBytes ?? 1024 * 1024,
          maxLogBytes: opts.maxLogBytes ?? 64 * 1024,
        };
        worker.postMessage(req);
      });
    });
  } finally {
    await worker.terminate();
  }
}

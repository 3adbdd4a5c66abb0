// One worker of the function runtime's pool: runs each request in a fresh WASI preview 1 instance.
// Plain JavaScript because Node 20 cannot load TypeScript in a worker without a loader; the message
// contract is `messages.ts` (RunRequest in, ReadyMessage / RunResult out).
//
// Every WASI call is answered by `wasi.mjs`, in this thread, from memory: fd 0 is the input, fd 1 and
// fd 2 are sinks, and nothing reaches a host descriptor, path or signal. That costs no system call per
// invocation, copies input and output exactly once, and lets the output limit stop the guest at the
// very write that crosses it.
//
// This module has no top-level `await` (its imports are static), so it is not an async module: a
// worker terminated while an async module is still evaluating can abort the whole process with a V8
// check failure on Node 20 ("Check failed: (location_) != nullptr", nodejs/node#53238), and the pool
// does terminate workers that are still starting (close, timeouts).

import { parentPort } from 'node:worker_threads';
import { createWasi } from './wasi.mjs';

if (parentPort === null) throw new Error('worker.mjs must run as a worker thread');
const port = parentPort;

/**
 * @param {{ id: number, module: WebAssembly.Module, input: Uint8Array, maxOutputBytes: number, maxLogBytes: number }} req
 */
function run(req) {
  /** @type {WebAssembly.Memory | undefined} */
  let memory;
  const wasi = createWasi({
    input: req.input,
    maxOutputBytes: req.maxOutputBytes,
    maxLogBytes: req.maxLogBytes,
    memory: () => memory,
  });
  const started = process.hrtime.bigint();
  /** @type {{ phase: 'instantiate' | 'run' }} */
  const progress = { phase: 'instantiate' };
  const outcome = wasi.run(() => {
    const instance = new WebAssembly.Instance(req.module, wasi.imports);
    // prepare-module.ts admitted only commands that export `memory` and `_start`.
    memory = /** @type {WebAssembly.Memory} */ (instance.exports.memory);
    progress.phase = 'run';
    /** @type {() => void} */ (instance.exports._start)();
  });
  const base = {
    type: 'result',
    id: req.id,
    micros: Number((process.hrtime.bigint() - started) / 1000n),
    output: wasi.stdout.bytes(),
    stderr: wasi.stderr.bytes(),
    stderrDropped: wasi.stderr.dropped,
  };
  switch (outcome.status) {
    case 'exit':
      return { ...base, status: 'exit', exitCode: outcome.exitCode };
    case 'output-limit':
      return { ...base, status: 'output-limit' };
    case 'threw': {
      const e = outcome.error;
      const errorName = e instanceof Error ? e.constructor.name : typeof e;
      const message = e instanceof Error ? e.message : String(e);
      const memoryBytes = progress.phase === 'run' ? (memory?.buffer.byteLength ?? 0) : 0;
      return { ...base, status: 'trap', phase: progress.phase, errorName, message, memoryBytes };
    }
  }
}

port.on('message', (req) => {
  if (req?.type !== 'run') return;
  const result = run(req);
  const transfer = [result.stderr.buffer];
  if (result.output.buffer !== result.stderr.buffer) transfer.push(result.output.buffer);
  port.postMessage(result, transfer);
});
port.postMessage({ type: 'ready' });

// One worker of the matmul engine (engine.ts): instantiates matmul.wasm on the engine's shared memory
// once, then runs the export calls each message lists, in order, and answers when they are done.
// Plain JavaScript because Node 20 cannot load TypeScript in a worker without a loader. No top-level
// `await`, so terminating a worker that is still starting is safe (see runtime/worker.mjs).
//
// Before it reports ready, the worker runs a few small products on a private one-page memory: V8
// first runs WebAssembly in its baseline compiler and switches a function to the optimising one only
// after it has run a while, so without this the first challenge would be measured on slow code.
//
// In:  workerData = { module: WebAssembly.Module, memory: WebAssembly.Memory (shared) }
//      { id: number, calls: [exportName, ...i32 args][] }
// Out: { type: 'ready' } once, then { id, ok: true } or { id, ok: false, message } per message.

import { parentPort, workerData } from 'node:worker_threads';

if (parentPort === null) throw new Error('matmul-worker.mjs must run as a worker thread');
const port = parentPort;
const instance = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } });
/** @type {Record<string, (...args: number[]) => void>} */
const exportsByName = /** @type {any} */ (instance.exports);

port.on('message', (/** @type {{ id: number, calls: [string, ...number[]][] }} */ msg) => {
  try {
    for (const [name, ...args] of msg.calls) {
      const fn = exportsByName[name];
      if (typeof fn !== 'function') throw new Error(`matmul.wasm has no export ${name}`);
      fn(...args);
    }
    port.postMessage({ id: msg.id, ok: true });
  } catch (e) {
    port.postMessage({ id: msg.id, ok: false, message: e instanceof Error ? e.message : String(e) });
  }
});
/** Runs `rounds` products of order 32 (layout as engine.ts lays it out) on a private memory. */
function warmUp(rounds) {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const scratch = /** @type {any} */ (
    new WebAssembly.Instance(workerData.module, { env: { memory } }).exports
  );
  // n = 32: kc = 4, 16 A panels (2048 bytes), 8 B panels (2048 bytes), C and staging from 4096
  for (let r = 0; r < rounds; r++) {
    scratch.pack_a(4096, 0, 4, 0, 16);
    scratch.pack_b(4096 + 1024, 2048, 4, 32, 0, 8);
    scratch.matmul(0, 2048, 4096, 4, 128, 0, 16, 8, 8);
  }
}

// tier-up compiles in the background: give it a few turns between bursts
let bursts = 4;
const warm = () => {
  warmUp(16);
  if (--bursts > 0) setTimeout(warm, 2);
  else port.postMessage({ type: 'ready' });
};
warm();

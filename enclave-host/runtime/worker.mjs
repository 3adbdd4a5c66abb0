// One worker of the function runtime's pool: runs each request in a fresh WASI preview 1 instance.
// Plain JavaScript because Node 20 cannot load TypeScript in a worker without a loader; the message
// contract is `messages.ts` (RunRequest in, ReadyMessage / RunResult out).
//
// Standard streams. node:wasi wants host file descriptors for stdin/stdout/stderr. Instead of temp
// files or pipes we give it /dev/null (opened once per worker) and serve fd 0, 1 and 2 ourselves by
// overriding the preview 1 calls that move bytes (fd_read, fd_write, fd_pread, fd_pwrite) or could
// touch the host descriptor (every other fd_* call on fd 0-2 except the two that only describe it). That costs no system call per
// invocation, copies input and output exactly once, and lets the output limit stop the guest at the
// very write that crosses it. Every other call goes to node:wasi, which has no preopened directories
// here, so the guest sees no file system.

import { openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';

// node:wasi emits an ExperimentalWarning on load in every worker; it says nothing the operator can
// act on, so drop that one warning (this `process` object is the worker's own).
const emitWarning = process.emitWarning;
process.emitWarning = (warning, ...rest) => {
  const text = typeof warning === 'string' ? warning : warning?.message;
  if (typeof text === 'string' && text.startsWith('WASI is an experimental feature')) return;
  emitWarning.call(process, warning, ...rest);
};
// Loaded synchronously (require, not a top-level `await import`) so that this module is not an async
// module: a worker terminated while an async module is still evaluating can abort the whole process
// with a V8 check failure on Node 20 ("Check failed: (location_) != nullptr", nodejs/node#53238),
// and the pool does terminate workers that are still starting (close, timeouts).
const { WASI } = createRequire(import.meta.url)('node:wasi');

// WASI preview 1 errno values (witx `errno` enum).
const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_FAULT = 21;
const ERRNO_INVAL = 28;
const ERRNO_NOTSUP = 58;
const ERRNO_SPIPE = 70;
/** Descriptor calls refused on fd 0-2, with the errno each answers. */
const STDIO_REFUSED = [
  ['fd_advise', ERRNO_SUCCESS],
  ['fd_allocate', ERRNO_NOTSUP],
  ['fd_datasync', ERRNO_SUCCESS],
  ['fd_sync', ERRNO_SUCCESS],
  ['fd_fdstat_set_flags', ERRNO_NOTSUP],
  ['fd_fdstat_set_rights', ERRNO_NOTSUP],
  ['fd_filestat_set_size', ERRNO_NOTSUP],
  ['fd_filestat_set_times', ERRNO_NOTSUP],
  ['fd_readdir', ERRNO_NOTSUP],
  ['fd_prestat_get', ERRNO_BADF],
  ['fd_prestat_dir_name', ERRNO_BADF],
];
/** Same bound as Linux's IOV_MAX: a longer iovec array is refused with EINVAL. */
const IOV_MAX = 1024;

if (parentPort === null) throw new Error('worker.mjs must run as a worker thread');
const port = parentPort;
const devNull = openSync('/dev/null', 'r+');

/** Thrown from fd_write to unwind the guest when its output crosses the limit. */
class OutputLimitExceeded extends Error {}

/** A byte sink that grows by doubling up to a hard cap. */
class Sink {
  /** @param {number} cap */
  constructor(cap) {
    this.cap = cap;
    this.buf = new Uint8Array(Math.min(cap, 4096));
    this.len = 0;
    this.dropped = 0;
  }
  /** Appends as much as fits; returns false when something was dropped. @param {Uint8Array} chunk */
  push(chunk) {
    const room = this.cap - this.len;
    const take = Math.min(room, chunk.length);
    if (this.len + take > this.buf.length) {
      let size = this.buf.length;
      while (size < this.len + take) size = Math.min(this.cap, size * 2);
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    this.buf.set(chunk.subarray(0, take), this.len);
    this.len += take;
    this.dropped += chunk.length - take;
    return take === chunk.length;
  }
  bytes() {
    return this.buf.subarray(0, this.len);
  }
}

/**
 * @param {{ id: number, module: WebAssembly.Module, input: Uint8Array, maxOutputBytes: number, maxLogBytes: number }} req
 */
function run(req) {
  const wasi = new WASI({
    version: 'preview1',
    args: ['function'],
    env: {},
    stdin: devNull,
    stdout: devNull,
    stderr: devNull,
    returnOnExit: true,
  });
  const host = wasi.wasiImport;
  const input = req.input;
  let inputPos = 0;
  const stdout = new Sink(req.maxOutputBytes);
  const stderr = new Sink(req.maxLogBytes);
  const closed = [false, false, false];
  // Sticky: a guest built with exception handling could catch our unwind (catch_all) and carry on;
  // its output is over the limit whatever it does next.
  let outputOverflow = false;
  /** @type {WebAssembly.Memory | undefined} */
  let memory;

  const isStdio = (fd) => fd === 0 || fd === 1 || fd === 2;

  /** Walks an iovec array; calls visit(ptr, len) for each buffer; returns an errno or the total. */
  // Pointers and lengths arrive as signed i32 values; `>>> 0` reads them as the u32 they are.
  function eachIovec(iovsArg, iovsLenArg, visit) {
    const iovs = iovsArg >>> 0;
    const iovsLen = iovsLenArg >>> 0;
    if (memory === undefined) return -ERRNO_FAULT;
    if (iovsLen > IOV_MAX) return -ERRNO_INVAL;
    const size = memory.buffer.byteLength;
    if (iovs + iovsLen * 8 > size) return -ERRNO_FAULT;
    const view = new DataView(memory.buffer);
    for (let i = 0; i < iovsLen; i++) {
      const ptr = view.getUint32(iovs + i * 8, true);
      const len = view.getUint32(iovs + i * 8 + 4, true);
      if (ptr + len > size) return -ERRNO_FAULT;
    }
    let total = 0;
    for (let i = 0; i < iovsLen; i++) {
      const ptr = view.getUint32(iovs + i * 8, true);
      const len = view.getUint32(iovs + i * 8 + 4, true);
      const done = visit(new Uint8Array(memory.buffer, ptr, len));
      total += done;
      if (done < len) break;
    }
    return total;
  }

  function storeU32(ptrArg, value) {
    const ptr = ptrArg >>> 0;
    if (memory === undefined || ptr + 4 > memory.buffer.byteLength) return ERRNO_FAULT;
    new DataView(memory.buffer).setUint32(ptr, value, true);
    return ERRNO_SUCCESS;
  }

  const stdio = {
    fd_read(fd, iovs, iovsLen, nread) {
      if (fd !== 0) return isStdio(fd) ? ERRNO_BADF : host.fd_read(fd, iovs, iovsLen, nread);
      if (closed[0]) return ERRNO_BADF;
      const n = eachIovec(iovs, iovsLen, (buf) => {
        const take = Math.min(buf.length, input.length - inputPos);
        buf.set(input.subarray(inputPos, inputPos + take));
        inputPos += take;
        return take;
      });
      return n < 0 ? -n : storeU32(nread, n);
    },
    fd_write(fd, iovs, iovsLen, nwritten) {
      if (fd !== 1 && fd !== 2) return fd === 0 ? ERRNO_BADF : host.fd_write(fd, iovs, iovsLen, nwritten);
      if (closed[fd]) return ERRNO_BADF;
      const sink = fd === 1 ? stdout : stderr;
      const n = eachIovec(iovs, iovsLen, (buf) => {
        // stdout over the limit stops the guest; stderr over its cap is dropped silently.
        if (!sink.push(buf) && fd === 1) {
          outputOverflow = true;
          throw new OutputLimitExceeded();
        }
        return buf.length;
      });
      return n < 0 ? -n : storeU32(nwritten, n);
    },
    fd_pread(fd, ...rest) {
      return isStdio(fd) ? ERRNO_SPIPE : host.fd_pread(fd, ...rest);
    },
    fd_pwrite(fd, ...rest) {
      return isStdio(fd) ? ERRNO_SPIPE : host.fd_pwrite(fd, ...rest);
    },
    fd_seek(fd, ...rest) {
      return isStdio(fd) ? ERRNO_SPIPE : host.fd_seek(fd, ...rest);
    },
    fd_tell(fd, ...rest) {
      return isStdio(fd) ? ERRNO_SPIPE : host.fd_tell(fd, ...rest);
    },
    fd_close(fd) {
      if (!isStdio(fd)) return host.fd_close(fd);
      if (closed[fd]) return ERRNO_BADF;
      closed[fd] = true;
      return ERRNO_SUCCESS;
    },
    fd_renumber(from, to) {
      return isStdio(from) || isStdio(to) ? ERRNO_NOTSUP : host.fd_renumber(from, to);
    },
    // uvwasi's proc_raise signals the *host* process (uv_kill(getpid(), sig)): never pass it on.
    proc_raise() {
      return ERRNO_NOTSUP;
    },
  };
  // The remaining calls that act on a descriptor must not reach the host's /dev/null behind fd 0-2
  // (timestamps, flags, truncation): a no-op for the sync calls, EBADF for the preopen queries,
  // ENOTSUP for the rest. fd_fdstat_get and fd_filestat_get pass through (they only describe).
  for (const [name, errno] of STDIO_REFUSED) {
    const call = host[name];
    stdio[name] = (fd, ...rest) => (isStdio(fd) ? errno : call(fd, ...rest));
  }

  const started = process.hrtime.bigint();
  const micros = () => Number((process.hrtime.bigint() - started) / 1000n);
  const base = () => ({
    type: 'result',
    id: req.id,
    micros: micros(),
    stderr: stderr.bytes(),
    stderrDropped: stderr.dropped,
  });
  let instance;
  try {
    instance = new WebAssembly.Instance(req.module, { wasi_snapshot_preview1: { ...host, ...stdio } });
    memory = instance.exports.memory;
  } catch (e) {
    return trap(base(), 'instantiate', e, 0);
  }
  try {
    const exitCode = wasi.start(instance);
    if (outputOverflow) return { ...base(), status: 'output-limit' };
    return { ...base(), status: 'exit', exitCode, output: stdout.bytes() };
  } catch (e) {
    if (outputOverflow) return { ...base(), status: 'output-limit' };
    return trap(base(), 'run', e, memory?.buffer.byteLength ?? 0);
  }
}

function trap(base, phase, e, memoryBytes) {
  const errorName = e instanceof Error ? e.constructor.name : typeof e;
  const message = e instanceof Error ? e.message : String(e);
  return { ...base, status: 'trap', phase, errorName, message, memoryBytes };
}

port.on('message', (req) => {
  if (req?.type !== 'run') return;
  const result = run(req);
  const transfer = [result.stderr.buffer];
  if (result.status === 'exit' && result.output.buffer !== result.stderr.buffer) {
    transfer.push(result.output.buffer);
  }
  port.postMessage(result, transfer);
});
port.postMessage({ type: 'ready' });

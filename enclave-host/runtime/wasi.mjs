// WASI preview 1 for one invocation, answered entirely here: every one of the 46 functions of
// `wasi_snapshot_preview1` (WebAssembly/WASI legacy/preview1/witx/wasi_snapshot_preview1.witx) is a
// function below, and none of them touches the host: no file descriptor, no path, no signal, no
// environment variable of the executor. What the guest gets:
//
// - fd 0: the input, a read-only stream; fd 1: stdout, a sink whose limit stops the guest at the write
//   that crosses it; fd 2: stderr, a sink that keeps `maxLogBytes` and counts the rest. No other
//   descriptor exists: there are no preopened directories, so no `path_*` call has a directory to
//   start from (EBADF for every fd), and `fd_*` on any other fd is EBADF.
// - argv = ["function"], an empty environment, clocks, randomness, sleeping (poll_oneoff).
//
// Plain JavaScript because the worker that loads it is (see worker.mjs). Layouts and numbers are those
// of legacy/preview1/witx/typenames.witx; "witx" below means that file.

import { getRandomValues } from 'node:crypto';

// witx `errno` (enum, tag u16): the index in the enum is the value.
const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_FAULT = 21;
const ERRNO_INVAL = 28;
const ERRNO_NOTSOCK = 57;
const ERRNO_NOTSUP = 58;
const ERRNO_SPIPE = 70;

// witx `clockid` (enum, tag u32).
const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;
const CLOCK_PROCESS_CPUTIME = 2;
const CLOCK_THREAD_CPUTIME = 3;

// witx `filetype` (enum u8): `unknown` is "different from any of the other types", which an in-memory
// stream is. Not `character_device`: wasi-libc's isatty() is "a character device without the seek and
// tell rights", and a tty stdout would be line-buffered (one fd_write per line) instead of fully
// buffered.
const FILETYPE_UNKNOWN = 0;

// witx `rights` (flags u64): bit n is the n-th flag.
const RIGHT_FD_READ = 1n << 1n;
const RIGHT_FD_WRITE = 1n << 6n;
const RIGHT_FD_FILESTAT_GET = 1n << 21n;
const RIGHT_POLL_FD_READWRITE = 1n << 27n;
/** fs_rights_base of fd 0, 1, 2: what works on each (fs_rights_inheriting is 0: nothing opens files). */
const STDIO_RIGHTS = [
  RIGHT_FD_READ | RIGHT_FD_FILESTAT_GET | RIGHT_POLL_FD_READWRITE,
  RIGHT_FD_WRITE | RIGHT_FD_FILESTAT_GET | RIGHT_POLL_FD_READWRITE,
  RIGHT_FD_WRITE | RIGHT_FD_FILESTAT_GET | RIGHT_POLL_FD_READWRITE,
];

// witx `eventtype` (enum u8), `subclockflags` (flags u16), `eventrwflags` (flags u16).
const EVENTTYPE_CLOCK = 0;
const EVENTTYPE_FD_READ = 1;
const EVENTTYPE_FD_WRITE = 2;
const SUBCLOCKFLAGS_ABSTIME = 1;
const EVENTRWFLAGS_HANGUP = 1;

// witx record sizes and field offsets (C layout: each field at its natural alignment).
/** `fdstat`: filetype u8 @0, flags u16 @2, rights_base u64 @8, rights_inheriting u64 @16. */
const FDSTAT_SIZE = 24;
/** `filestat`: dev @0, ino @8, filetype u8 @16, nlink @24, size @32, atim @40, mtim @48, ctim @56. */
const FILESTAT_SIZE = 64;
/** `subscription`: userdata u64 @0, tag u8 @8, then @16 either `subscription_clock` (id u32 @16,
 * timeout u64 @24, precision u64 @32, flags u16 @40) or `subscription_fd_readwrite` (fd u32 @16). */
const SUBSCRIPTION_SIZE = 48;
/** `event`: userdata u64 @0, error u16 @8, type u8 @10, fd_readwrite.nbytes u64 @16, .flags u16 @24. */
const EVENT_SIZE = 32;
/** `iovec` / `ciovec`: buf u32 @0, buf_len u32 @4. */
const IOVEC_SIZE = 8;

/** Same bound as Linux's IOV_MAX: a longer iovec array is refused with EINVAL. */
const IOV_MAX = 1024;
/** Subscriptions per poll_oneoff call at most (EINVAL beyond): bounds the copy poll_oneoff makes. */
const MAX_SUBSCRIPTIONS = 65536;
/** crypto.getRandomValues fills at most this many bytes per call (Web Crypto, QuotaExceededError). */
const RANDOM_CHUNK = 65536;
/** argv as the guest sees it: one NUL-terminated string. */
const ARGV0 = new TextEncoder().encode('function\0');
const U32_MAX = 0xffffffff;

/** Thrown by proc_exit to unwind the guest; never leaves `run`. */
class ProcExit extends Error {}
/** Thrown by fd_write to unwind the guest when its stdout crosses the limit; never leaves `run`. */
class OutputLimitExceeded extends Error {}

/** A byte sink that grows by doubling up to a hard cap. */
export class Sink {
  /** @param {number} cap */
  constructor(cap) {
    this.cap = cap;
    this.buf = new Uint8Array(Math.min(cap, 4096));
    this.len = 0;
    this.dropped = 0;
  }
  /** Appends as much as fits; returns false when something was dropped. @param {Uint8Array} chunk */
  push(chunk) {
    const take = Math.min(this.cap - this.len, chunk.length);
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
  /** Bytes that can still be appended. */
  room() {
    return this.cap - this.len;
  }
  bytes() {
    return this.buf.subarray(0, this.len);
  }
}

/**
 * @typedef {object} WasiOptions
 * @property {Uint8Array} input what the guest reads from fd 0
 * @property {number} maxOutputBytes stdout beyond this stops the guest (output-limit)
 * @property {number} maxLogBytes stderr beyond this is dropped and counted
 * @property {() => { readonly buffer: ArrayBuffer } | undefined} memory the guest's `WebAssembly.Memory`
 *   (undefined until the instance exists)
 */

/**
 * How a run ended: `_start` returned or the guest called proc_exit (`exit`), stdout crossed its limit
 * (`output-limit`), or something else was thrown: a trap, a stack overflow, a failed instantiation
 * (`threw`).
 * @typedef {{ status: 'exit', exitCode: number } | { status: 'output-limit' } | { status: 'threw', error: unknown }} WasiOutcome
 */

/**
 * A preview 1 function as the engine calls it: i32 arguments as numbers, i64 ones as bigints; the
 * result is an errno (proc_exit never returns).
 * @typedef {(...args: any[]) => number} WasiFunction
 */

/**
 * @typedef {object} Wasi
 * @property {{ wasi_snapshot_preview1: Record<string, WasiFunction> }} imports
 * @property {Sink} stdout
 * @property {Sink} stderr
 * @property {(body: () => void) => WasiOutcome} run runs `body` (instantiate and call `_start`)
 */

/**
 * The WASI preview 1 import object for one invocation, with its stdio state.
 * @param {WasiOptions} opts
 * @returns {Wasi}
 */
export function createWasi(opts) {
  const { input } = opts;
  let inputPos = 0;
  const stdout = new Sink(opts.maxOutputBytes);
  const stderr = new Sink(opts.maxLogBytes);
  /** fd 0, 1, 2: false once the guest closed it (or exited). */
  const open = [true, true, true];
  // Both sticky: a guest built with exception handling can catch our unwind (catch_all) and carry on;
  // what it does afterwards does not change how it ended.
  let outputOverflow = false;
  /** @type {number | undefined} */
  let exitCode;
  const started = process.hrtime.bigint();
  /** Nanoseconds spent asleep in poll_oneoff (not CPU time). */
  let sleptNs = 0n;

  /** @type {ArrayBuffer | undefined} */
  let viewed;
  /** @type {DataView} */
  let dv = new DataView(new ArrayBuffer(0));
  /** @type {Uint8Array} */
  let u8 = new Uint8Array(0);
  /**
   * Refreshes `dv`/`u8` (memory.grow replaces the buffer); false when there is no memory yet (an
   * import called from the module's start function, before the exports exist).
   */
  function mapMemory() {
    const memory = opts.memory();
    if (memory === undefined) return false;
    const buffer = memory.buffer;
    if (buffer !== viewed) {
      viewed = buffer;
      dv = new DataView(buffer);
      u8 = new Uint8Array(buffer);
    }
    return true;
  }
  // Every pointer and length arrives as an i32; `>>> 0` reads it as the u32 (witx `size`, pointers)
  // it is, so a "negative" pointer is a large one and fails the bounds check.
  /** @param {number} ptr u32 @param {number} len u32 */
  const fits = (ptr, len) => ptr + len <= u8.length;

  /** Stores u32 values at u32 pointers, all or nothing. @param {[number, number][]} pairs */
  function storeU32s(pairs) {
    if (!mapMemory()) return ERRNO_FAULT;
    for (const [ptr] of pairs) if (!fits(ptr >>> 0, 4)) return ERRNO_FAULT;
    for (const [ptr, value] of pairs) dv.setUint32(ptr >>> 0, value, true);
    return ERRNO_SUCCESS;
  }
  /** @param {number} ptrArg @param {bigint} value */
  function storeU64(ptrArg, value) {
    const ptr = ptrArg >>> 0;
    if (!mapMemory() || !fits(ptr, 8)) return ERRNO_FAULT;
    dv.setBigUint64(ptr, value, true);
    return ERRNO_SUCCESS;
  }

  /**
   * Walks an iovec array: checks every buffer first (EFAULT, EINVAL), then calls visit(buffer) in
   * order until one takes less than its length. Returns the bytes visited, or -errno.
   * @param {number} iovsArg @param {number} iovsLenArg @param {(buf: Uint8Array) => number} visit
   */
  function eachIovec(iovsArg, iovsLenArg, visit) {
    const iovs = iovsArg >>> 0;
    const count = iovsLenArg >>> 0;
    if (!mapMemory()) return -ERRNO_FAULT;
    if (count > IOV_MAX) return -ERRNO_INVAL;
    if (!fits(iovs, count * IOVEC_SIZE)) return -ERRNO_FAULT;
    let sum = 0;
    for (let i = 0; i < count; i++) {
      const ptr = dv.getUint32(iovs + i * IOVEC_SIZE, true);
      const len = dv.getUint32(iovs + i * IOVEC_SIZE + 4, true);
      if (!fits(ptr, len)) return -ERRNO_FAULT;
      sum += len;
    }
    // The count comes back as a witx `size` (u32); like writev's SSIZE_MAX check, refuse what cannot.
    if (sum > U32_MAX) return -ERRNO_INVAL;
    let total = 0;
    for (let i = 0; i < count; i++) {
      const ptr = dv.getUint32(iovs + i * IOVEC_SIZE, true);
      const len = dv.getUint32(iovs + i * IOVEC_SIZE + 4, true);
      const done = visit(u8.subarray(ptr, ptr + len));
      total += done;
      if (done < len) break;
    }
    return total;
  }

  /** @param {number} fd */
  const isOpen = (fd) => (fd === 0 || fd === 1 || fd === 2) && open[fd] === true;
  /** The answer for an fd_* call that the standard streams do not support. @param {number} fd @param {number} errno */
  const onStdio = (fd, errno) => (isOpen(fd) ? errno : ERRNO_BADF);

  const monotonicNs = () => process.hrtime.bigint();
  // Resolution 1 ms: Date.now() is what the worker has for wall time.
  const realtimeNs = () => BigInt(Date.now()) * 1_000_000n;
  // The guest is one thread that runs from instantiation to exit except while asleep in poll_oneoff,
  // so its CPU time is at most the elapsed time minus the sleeps; that is what both CPU-time clocks
  // report (it includes time the guest was preempted). Not process.cpuUsage(): in a worker it is the
  // whole process's, which would report the other tenants' CPU use outright.
  const cputimeNs = () => monotonicNs() - started - sleptNs;
  /** @param {number} id @returns {bigint | undefined} */
  function clockNow(id) {
    switch (id) {
      case CLOCK_REALTIME:
        return realtimeNs();
      case CLOCK_MONOTONIC:
        return monotonicNs();
      case CLOCK_PROCESS_CPUTIME:
      case CLOCK_THREAD_CPUTIME:
        return cputimeNs();
      default:
        return undefined;
    }
  }
  /** Nanoseconds per tick of each clock (witx: non-zero for supported clocks, else EINVAL). */
  const clockRes = [1_000_000n, 1n, 1n, 1n];

  /**
   * When a clock subscription fires, on the monotonic clock (what the sleep waits on), or the errno
   * for its event: EINVAL for an unknown clock, ENOTSUP for the CPU-time clocks, which do not advance
   * while the guest sleeps, so a timer on them would never fire.
   * @param {number} id @param {bigint} timeout @param {boolean} absolute @param {bigint} now monotonic
   * @returns {bigint | number}
   */
  function timerDeadline(id, timeout, absolute, now) {
    if (id === CLOCK_MONOTONIC) return absolute ? timeout : now + timeout;
    if (id === CLOCK_REALTIME) return absolute ? now + (timeout - realtimeNs()) : now + timeout;
    return id === CLOCK_PROCESS_CPUTIME || id === CLOCK_THREAD_CPUTIME ? ERRNO_NOTSUP : ERRNO_INVAL;
  }

  /** Waits on a private cell nobody notifies: a sleep that blocks only this worker's thread. */
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  /** @param {bigint} deadline monotonic ns */
  function sleepUntil(deadline) {
    const from = monotonicNs();
    // Atomics.wait takes milliseconds and may return early (rounding): loop until the deadline.
    for (let now = from; now < deadline; now = monotonicNs()) {
      Atomics.wait(sleeper, 0, 0, Number(deadline - now) / 1e6);
    }
    sleptNs += monotonicNs() - from;
  }

  /** @type {Record<string, WasiFunction>} */
  const wasi = {
    args_sizes_get(argcPtr, argvBufSizePtr) {
      return storeU32s([
        [argcPtr, 1],
        [argvBufSizePtr, ARGV0.length],
      ]);
    },
    args_get(argvArg, argvBufArg) {
      const argv = argvArg >>> 0;
      const argvBuf = argvBufArg >>> 0;
      if (!mapMemory() || !fits(argv, 4) || !fits(argvBuf, ARGV0.length)) return ERRNO_FAULT;
      dv.setUint32(argv, argvBuf, true);
      u8.set(ARGV0, argvBuf);
      return ERRNO_SUCCESS;
    },
    // No variables: there is nothing to write, and environ_get succeeds (a guest's libc calls it
    // whenever environ_sizes_get returned, whatever the count).
    environ_sizes_get(countPtr, bufSizePtr) {
      return storeU32s([
        [countPtr, 0],
        [bufSizePtr, 0],
      ]);
    },
    environ_get() {
      return ERRNO_SUCCESS;
    },

    clock_res_get(id, resPtr) {
      const res = clockRes[id];
      return res === undefined ? ERRNO_INVAL : storeU64(resPtr, res);
    },
    clock_time_get(id, _precision, timePtr) {
      const now = clockNow(id);
      return now === undefined ? ERRNO_INVAL : storeU64(timePtr, now);
    },

    // Descriptor calls. Only fd 0-2 exist; each answers what a stream in memory can do.
    fd_advise(fd) {
      return onStdio(fd, ERRNO_SUCCESS); // advice only: ignored
    },
    fd_allocate(fd) {
      return onStdio(fd, ERRNO_NOTSUP);
    },
    fd_close(fd) {
      if (!isOpen(fd)) return ERRNO_BADF;
      open[fd] = false;
      return ERRNO_SUCCESS;
    },
    fd_datasync(fd) {
      return onStdio(fd, ERRNO_SUCCESS); // writes land in the sink at once: nothing to flush
    },
    fd_sync(fd) {
      return onStdio(fd, ERRNO_SUCCESS);
    },
    fd_fdstat_get(fd, statPtrArg) {
      if (!isOpen(fd)) return ERRNO_BADF;
      const ptr = statPtrArg >>> 0;
      if (!mapMemory() || !fits(ptr, FDSTAT_SIZE)) return ERRNO_FAULT;
      u8.fill(0, ptr, ptr + FDSTAT_SIZE);
      dv.setUint8(ptr, FILETYPE_UNKNOWN);
      dv.setBigUint64(ptr + 8, STDIO_RIGHTS[fd] ?? 0n, true);
      return ERRNO_SUCCESS;
    },
    // Flags are 0 (blocking, no append); setting them to 0 changes nothing, anything else is refused.
    fd_fdstat_set_flags(fd, flags) {
      return onStdio(fd, flags === 0 ? ERRNO_SUCCESS : ERRNO_NOTSUP);
    },
    fd_fdstat_set_rights(fd) {
      return onStdio(fd, ERRNO_NOTSUP);
    },
    fd_filestat_get(fd, statPtrArg) {
      if (!isOpen(fd)) return ERRNO_BADF;
      const ptr = statPtrArg >>> 0;
      if (!mapMemory() || !fits(ptr, FILESTAT_SIZE)) return ERRNO_FAULT;
      u8.fill(0, ptr, ptr + FILESTAT_SIZE);
      dv.setUint8(ptr + 16, FILETYPE_UNKNOWN);
      return ERRNO_SUCCESS;
    },
    fd_filestat_set_size(fd) {
      return onStdio(fd, ERRNO_NOTSUP);
    },
    fd_filestat_set_times(fd) {
      return onStdio(fd, ERRNO_NOTSUP);
    },
    // Streams have no offset (lseek on a pipe is ESPIPE).
    fd_pread(fd) {
      return onStdio(fd, ERRNO_SPIPE);
    },
    fd_pwrite(fd) {
      return onStdio(fd, ERRNO_SPIPE);
    },
    fd_seek(fd) {
      return onStdio(fd, ERRNO_SPIPE);
    },
    fd_tell(fd) {
      return onStdio(fd, ERRNO_SPIPE);
    },
    // No preopened directories: libc's preopen scan stops at the first EBADF.
    fd_prestat_get() {
      return ERRNO_BADF;
    },
    fd_prestat_dir_name() {
      return ERRNO_BADF;
    },
    fd_readdir(fd) {
      return onStdio(fd, ERRNO_NOTSUP);
    },
    fd_renumber(from, to) {
      return isOpen(from) && isOpen(to) ? ERRNO_NOTSUP : ERRNO_BADF;
    },
    fd_read(fd, iovs, iovsLen, nreadPtr) {
      if (fd !== 0 || !open[0]) return ERRNO_BADF;
      const n = eachIovec(iovs, iovsLen, (buf) => {
        const take = Math.min(buf.length, input.length - inputPos);
        buf.set(input.subarray(inputPos, inputPos + take));
        inputPos += take;
        return take;
      });
      return n < 0 ? -n : storeU32s([[nreadPtr, n]]);
    },
    fd_write(fd, iovs, iovsLen, nwrittenPtr) {
      if ((fd !== 1 && fd !== 2) || !open[fd]) return ERRNO_BADF;
      const sink = fd === 1 ? stdout : stderr;
      const n = eachIovec(iovs, iovsLen, (buf) => {
        // stdout over the limit stops the guest (keeping what fit); stderr over its cap is dropped.
        if (!sink.push(buf) && fd === 1) {
          outputOverflow = true;
          throw new OutputLimitExceeded();
        }
        return buf.length;
      });
      return n < 0 ? -n : storeU32s([[nwrittenPtr, n]]);
    },

    // Every path is resolved against a directory descriptor, and the guest has none: EBADF for every
    // fd, before the path is read. (fd 0-2 are open but are not directories.)
    path_create_directory() {
      return ERRNO_BADF;
    },
    path_filestat_get() {
      return ERRNO_BADF;
    },
    path_filestat_set_times() {
      return ERRNO_BADF;
    },
    path_link() {
      return ERRNO_BADF;
    },
    path_open() {
      return ERRNO_BADF;
    },
    path_readlink() {
      return ERRNO_BADF;
    },
    path_remove_directory() {
      return ERRNO_BADF;
    },
    path_rename() {
      return ERRNO_BADF;
    },
    path_symlink() {
      return ERRNO_BADF;
    },
    path_unlink_file() {
      return ERRNO_BADF;
    },

    poll_oneoff(inArg, outArg, nArg, neventsPtr) {
      const inPtr = inArg >>> 0;
      const outPtr = outArg >>> 0;
      const n = nArg >>> 0;
      if (n === 0 || n > MAX_SUBSCRIPTIONS) return ERRNO_INVAL; // witx: 0 is EINVAL
      if (!mapMemory()) return ERRNO_FAULT;
      if (
        !fits(inPtr, n * SUBSCRIPTION_SIZE) ||
        !fits(outPtr, n * EVENT_SIZE) ||
        !fits(neventsPtr >>> 0, 4)
      ) {
        return ERRNO_FAULT;
      }
      // A copy: the events may be written over the subscriptions (the buffers may overlap).
      const subs = new DataView(u8.slice(inPtr, inPtr + n * SUBSCRIPTION_SIZE).buffer);
      /** Events ready without waiting. @type {{ userdata: bigint, error: number, type: number, nbytes: number, flags: number }[]} */
      const ready = [];
      /** Clock subscriptions still to fire, with their deadline on the monotonic clock. @type {{ userdata: bigint, deadline: bigint }[]} */
      const timers = [];
      const now = monotonicNs();
      for (let i = 0; i < n; i++) {
        const at = i * SUBSCRIPTION_SIZE;
        const userdata = subs.getBigUint64(at, true);
        const type = subs.getUint8(at + 8);
        if (type === EVENTTYPE_CLOCK) {
          const id = subs.getUint32(at + 16, true);
          const timeout = subs.getBigUint64(at + 24, true);
          const absolute = (subs.getUint16(at + 40, true) & SUBCLOCKFLAGS_ABSTIME) !== 0;
          const deadline = timerDeadline(id, timeout, absolute, now);
          if (typeof deadline === 'bigint') timers.push({ userdata, deadline });
          else ready.push({ userdata, error: deadline, type, nbytes: 0, flags: 0 });
        } else if (type === EVENTTYPE_FD_READ || type === EVENTTYPE_FD_WRITE) {
          // fd 0 is always readable (the rest of the input; hang-up at its end), fd 1 and 2 always
          // writable; any other pairing is EBADF, as for fd_read/fd_write.
          const fd = subs.getUint32(at + 16, true);
          const event = { userdata, error: ERRNO_BADF, type, nbytes: 0, flags: 0 };
          if (type === EVENTTYPE_FD_READ && fd === 0 && open[0]) {
            event.error = ERRNO_SUCCESS;
            event.nbytes = input.length - inputPos;
            event.flags = event.nbytes === 0 ? EVENTRWFLAGS_HANGUP : 0;
          } else if (type === EVENTTYPE_FD_WRITE && (fd === 1 || fd === 2) && open[fd]) {
            event.error = ERRNO_SUCCESS;
            event.nbytes = (fd === 1 ? stdout : stderr).room();
          }
          ready.push(event);
        } else {
          return ERRNO_INVAL; // not a witx `eventtype`
        }
      }
      // Nothing ready: sleep until the earliest timer (the pool's wall-time limit still applies).
      if (ready.length === 0) {
        let earliest = timers[0]?.deadline ?? now;
        for (const t of timers) if (t.deadline < earliest) earliest = t.deadline;
        sleepUntil(earliest);
      }
      const end = monotonicNs();
      for (const t of timers) {
        if (t.deadline > end) continue;
        ready.push({
          userdata: t.userdata,
          error: ERRNO_SUCCESS,
          type: EVENTTYPE_CLOCK,
          nbytes: 0,
          flags: 0,
        });
      }
      for (const [k, e] of ready.entries()) {
        const at = outPtr + k * EVENT_SIZE;
        u8.fill(0, at, at + EVENT_SIZE);
        dv.setBigUint64(at, e.userdata, true);
        dv.setUint16(at + 8, e.error, true);
        dv.setUint8(at + 10, e.type);
        dv.setBigUint64(at + 16, BigInt(e.nbytes), true);
        dv.setUint16(at + 24, e.flags, true);
      }
      return storeU32s([[neventsPtr, ready.length]]);
    },

    proc_exit(code) {
      exitCode = code >>> 0; // witx `exitcode` is u32
      open.fill(false);
      throw new ProcExit();
    },
    // Signals are not delivered: the guest has no handlers to run and must not reach the host's.
    proc_raise() {
      return ERRNO_NOTSUP;
    },
    sched_yield() {
      return ERRNO_SUCCESS;
    },
    random_get(bufArg, lenArg) {
      const buf = bufArg >>> 0;
      const len = lenArg >>> 0;
      if (!mapMemory() || !fits(buf, len)) return ERRNO_FAULT;
      for (let at = buf; at < buf + len; at += RANDOM_CHUNK) {
        getRandomValues(u8.subarray(at, Math.min(at + RANDOM_CHUNK, buf + len)));
      }
      return ERRNO_SUCCESS;
    },

    // No sockets: fd 0-2 are open but are not sockets; every other fd does not exist.
    sock_accept(fd) {
      return onStdio(fd, ERRNO_NOTSOCK);
    },
    sock_recv(fd) {
      return onStdio(fd, ERRNO_NOTSOCK);
    },
    sock_send(fd) {
      return onStdio(fd, ERRNO_NOTSOCK);
    },
    sock_shutdown(fd) {
      return onStdio(fd, ERRNO_NOTSOCK);
    },
  };

  /** @param {() => void} body @returns {WasiOutcome} */
  function run(body) {
    /** @type {{ error: unknown } | undefined} */
    let thrown;
    try {
      body();
    } catch (error) {
      thrown = { error };
    }
    if (outputOverflow) return { status: 'output-limit' };
    if (exitCode !== undefined) return { status: 'exit', exitCode };
    if (thrown !== undefined) return { status: 'threw', error: thrown.error };
    return { status: 'exit', exitCode: 0 };
  }

  return { imports: { wasi_snapshot_preview1: wasi }, stdout, stderr, run };
}

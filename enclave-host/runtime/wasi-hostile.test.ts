import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildExample, compileWat } from '../../examples/build-example.js';
import { expectEnclaveHostError as expectCode } from '../../test/error-code.js';
import { FunctionRuntime, type RuntimeLimits } from './function-runtime.js';
import { WASI_PREVIEW1_FUNCTIONS } from './prepare-module.js';
import { runInWorker } from './worker-harness.js';

/*
 * Guests that call every WASI preview 1 function the way a hostile module would, against the runtime's
 * own layer (wasi.mjs). Each guest records the errno (and any value) of every call with $out, and
 * $flush writes them to stdout as [count u32][values u32...]; the test compares them with the witx
 * numbers (legacy/preview1/witx/typenames.witx, `errno`).
 */

const LIMITS: RuntimeLimits = {
  memoryBytes: 4 * 1024 * 1024,
  wallTimeMs: 500,
  maxInputBytes: 64 * 1024,
  maxOutputBytes: 256 * 1024,
};

// witx `errno`.
const SUCCESS = 0;
const EBADF = 8;
const EFAULT = 21;
const EINVAL = 28;
const ENOTSOCK = 57;
const ENOTSUP = 58;
const ESPIPE = 70;

/** Core wasm signature of each preview 1 function, lowered from wasi_snapshot_preview1.witx. */
const SIGNATURES: Record<string, string> = {
  args_get: '(param i32 i32) (result i32)',
  args_sizes_get: '(param i32 i32) (result i32)',
  environ_get: '(param i32 i32) (result i32)',
  environ_sizes_get: '(param i32 i32) (result i32)',
  clock_res_get: '(param i32 i32) (result i32)',
  clock_time_get: '(param i32 i64 i32) (result i32)',
  fd_advise: '(param i32 i64 i64 i32) (result i32)',
  fd_allocate: '(param i32 i64 i64) (result i32)',
  fd_close: '(param i32) (result i32)',
  fd_datasync: '(param i32) (result i32)',
  fd_fdstat_get: '(param i32 i32) (result i32)',
  fd_fdstat_set_flags: '(param i32 i32) (result i32)',
  fd_fdstat_set_rights: '(param i32 i64 i64) (result i32)',
  fd_filestat_get: '(param i32 i32) (result i32)',
  fd_filestat_set_size: '(param i32 i64) (result i32)',
  fd_filestat_set_times: '(param i32 i64 i64 i32) (result i32)',
  fd_pread: '(param i32 i32 i32 i64 i32) (result i32)',
  fd_prestat_get: '(param i32 i32) (result i32)',
  fd_prestat_dir_name: '(param i32 i32 i32) (result i32)',
  fd_pwrite: '(param i32 i32 i32 i64 i32) (result i32)',
  fd_read: '(param i32 i32 i32 i32) (result i32)',
  fd_readdir: '(param i32 i32 i32 i64 i32) (result i32)',
  fd_renumber: '(param i32 i32) (result i32)',
  fd_seek: '(param i32 i64 i32 i32) (result i32)',
  fd_sync: '(param i32) (result i32)',
  fd_tell: '(param i32 i32) (result i32)',
  fd_write: '(param i32 i32 i32 i32) (result i32)',
  path_create_directory: '(param i32 i32 i32) (result i32)',
  path_filestat_get: '(param i32 i32 i32 i32 i32) (result i32)',
  path_filestat_set_times: '(param i32 i32 i32 i32 i64 i64 i32) (result i32)',
  path_link: '(param i32 i32 i32 i32 i32 i32 i32) (result i32)',
  path_open: '(param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)',
  path_readlink: '(param i32 i32 i32 i32 i32 i32) (result i32)',
  path_remove_directory: '(param i32 i32 i32) (result i32)',
  path_rename: '(param i32 i32 i32 i32 i32 i32) (result i32)',
  path_symlink: '(param i32 i32 i32 i32 i32) (result i32)',
  path_unlink_file: '(param i32 i32 i32) (result i32)',
  poll_oneoff: '(param i32 i32 i32 i32) (result i32)',
  proc_exit: '(param i32)',
  proc_raise: '(param i32) (result i32)',
  sched_yield: '(result i32)',
  random_get: '(param i32 i32) (result i32)',
  sock_accept: '(param i32 i32 i32) (result i32)',
  sock_recv: '(param i32 i32 i32 i32 i32 i32) (result i32)',
  sock_send: '(param i32 i32 i32 i32 i32) (result i32)',
  sock_shutdown: '(param i32 i32) (result i32)',
};

/** Descriptors a guest might try: the three it has, and some it does not (-1 is 0xffffffff). */
const STDIO_FDS = [0, 1, 2];
const MADE_UP_FDS = [3, 4, 1000, -1];
const ALL_FDS = [...STDIO_FDS, ...MADE_UP_FDS];

/*
 * Guest memory (4 pages): 0..15 iovecs of $flush/$emit; 16.. path strings; 128 an iovec over
 * 1024..1087; 256.. return slots; 512.. clock values; 1024.. buffers, subscriptions; 2048.. events;
 * 65532 the result count, 65536.. the results; 131072.. a large buffer.
 */
const MEMORY_BYTES = 4 * 65536;
const IMPORTS = Object.entries(SIGNATURES)
  .map(([name, sig]) => `(import "wasi_snapshot_preview1" "${name}" (func $${name} ${sig}))`)
  .join('\n');
const HELPERS = `
  (memory (export "memory") 4)
  (data (i32.const 16) "secret") (data (i32.const 32) "newdir") (data (i32.const 48) "moved")
  (global $cur (mut i32) (i32.const 65536))
  (func $out (param $v i32)
    (i32.store (global.get $cur) (local.get $v))
    (global.set $cur (i32.add (global.get $cur) (i32.const 4))))
  (func $out64 (param $v i64)
    (i64.store (global.get $cur) (local.get $v))
    (global.set $cur (i32.add (global.get $cur) (i32.const 8))))
  (func $emit (param $ptr i32) (param $len i32)
    (i32.store (i32.const 8) (local.get $ptr)) (i32.store (i32.const 12) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 0))))
  (func $flush
    (i32.store (i32.const 65532) (i32.shr_u (i32.sub (global.get $cur) (i32.const 65536)) (i32.const 2)))
    (call $emit (i32.const 65532) (i32.sub (global.get $cur) (i32.const 65532))))`;

/** A command that runs `body`, then flushes what it recorded (unless `flush` is false). */
function guest(body: string, opts: { extra?: string; flush?: boolean } = {}): string {
  const flush = opts.flush === false ? '' : '(call $flush)';
  return `(module ${IMPORTS} ${HELPERS} ${opts.extra ?? ''} (func (export "_start") ${body} ${flush}))`;
}

const i32 = (v: number) => `(i32.const ${v})`;
const i64 = (v: bigint | number) => `(i64.const ${v})`;
const out = (call: string) => `(call $out ${call})`;

interface Recorded {
  /** The u32 values the guest recorded, in order. */
  readonly values: number[];
  /** What it wrote after the flush. */
  readonly rest: Uint8Array;
}

function decode(output: Uint8Array): Recorded {
  const dv = new DataView(output.buffer, output.byteOffset, output.byteLength);
  const count = dv.getUint32(0, true);
  const values = Array.from({ length: count }, (_, i) => dv.getUint32(4 + 4 * i, true));
  return { values, rest: output.subarray(4 + 4 * count) };
}

/** Two recorded u32 values (lo, hi) as the u64 they are. */
const u64 = (values: number[], at: number) => BigInt(values[at]!) + (BigInt(values[at + 1]!) << 32n);

/** Every file under `dir` with its contents (directories end in '/'), sorted: a tree to compare. */
function snapshot(dir: string): string[] {
  const entries: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      if (statSync(join(dir, path)).isDirectory()) {
        entries.push(`${path}/`);
        walk(path);
      } else {
        entries.push(`${path} = ${readFileSync(join(dir, path), 'utf8')}`);
      }
    }
  };
  walk('');
  return entries;
}

const SECRET = 'host file: a guest must never read this';
const MAX_LOG_BYTES = 4096;

describe('WASI layer against hostile guests', () => {
  let rt: FunctionRuntime;
  let echo: string;
  let oldCwd: string;
  let cwd: string;
  let before: string[];

  // uvwasi resolved path_* calls relative to fd 0/1/2 under ./<stdin>, ./<stdout>, ./<stderr> of the
  // process's working directory. The runtime's worker threads share that directory, so the test moves
  // this process into a scratch directory holding exactly those names (vitest.config.ts runs test
  // files in forked processes, where process.chdir is allowed) and checks that nothing in it was read,
  // changed or created.
  beforeAll(async () => {
    oldCwd = process.cwd();
    cwd = mkdtempSync(join(tmpdir(), 'defaas-wasi-'));
    for (const name of ['<stdin>', '<stdout>', '<stderr>']) {
      mkdirSync(join(cwd, name));
      writeFileSync(join(cwd, name, 'secret'), SECRET);
    }
    process.chdir(cwd);
    before = snapshot(cwd);
    rt = new FunctionRuntime({ workers: 2, limits: LIMITS, maxLogBytes: MAX_LOG_BYTES });
    echo = await rt.register(await buildExample('echo'));
  });
  afterEach(async () => {
    // Whatever the guest did, the runtime serves the next call.
    const r = await rt.invoke(echo, new TextEncoder().encode('still here'));
    expect(new TextDecoder().decode(r.output)).toBe('still here');
  });
  afterAll(async () => {
    await rt?.close();
    process.chdir(oldCwd);
    if (cwd !== undefined) rmSync(cwd, { recursive: true, force: true });
  });

  async function run(body: string, input = new Uint8Array(0), flush = true): Promise<Recorded> {
    const id = await rt.register(await compileWat('guest.wat', guest(body, { flush })));
    return decode((await rt.invoke(id, input)).output);
  }

  it('the guests import all 46 preview 1 functions, and every one is answered', () => {
    expect(new Set(Object.keys(SIGNATURES))).toEqual(WASI_PREVIEW1_FUNCTIONS);
    expect(WASI_PREVIEW1_FUNCTIONS.size).toBe(46);
  });

  it('path_*: EBADF on fd 0-2 and on made-up fds; nothing in the working directory is read or made', async () => {
    // For each fd: open "secret" for reading (and read what it gives), mkdir "newdir", stat, touch,
    // link, readlink, rmdir, rename, symlink, unlink — the calls uvwasi would have resolved under
    // ./<stdin>/ and friends.
    const calls = (fd: number) => [
      `(call $path_open ${i32(fd)} ${i32(0)} ${i32(16)} ${i32(6)} ${i32(0)} ${i64(2)} ${i64(0)} ${i32(0)} ${i32(256)})`,
      `(call $path_create_directory ${i32(fd)} ${i32(32)} ${i32(6)})`,
      `(call $path_filestat_get ${i32(fd)} ${i32(1)} ${i32(16)} ${i32(6)} ${i32(1024)})`,
      `(call $path_filestat_set_times ${i32(fd)} ${i32(0)} ${i32(16)} ${i32(6)} ${i64(0)} ${i64(0)} ${i32(5)})`,
      `(call $path_link ${i32(fd)} ${i32(0)} ${i32(16)} ${i32(6)} ${i32(fd)} ${i32(48)} ${i32(5)})`,
      `(call $path_readlink ${i32(fd)} ${i32(16)} ${i32(6)} ${i32(1024)} ${i32(64)} ${i32(260)})`,
      `(call $path_remove_directory ${i32(fd)} ${i32(32)} ${i32(6)})`,
      `(call $path_rename ${i32(fd)} ${i32(16)} ${i32(6)} ${i32(fd)} ${i32(48)} ${i32(5)})`,
      `(call $path_symlink ${i32(16)} ${i32(6)} ${i32(fd)} ${i32(48)} ${i32(5)})`,
      `(call $path_unlink_file ${i32(fd)} ${i32(16)} ${i32(6)})`,
    ];
    // A descriptor path_open might have made (the slot starts at 3, the first fd after stdio), read
    // into 1024.. and emitted after the flush.
    const readBack = `(i32.store (i32.const 128) (i32.const 1024)) (i32.store (i32.const 132) (i32.const 64))
      ${out(`(call $fd_read (i32.load (i32.const 256)) ${i32(128)} ${i32(1)} ${i32(264)})`)}`;
    const body = `(i32.store (i32.const 256) (i32.const 3)) ${ALL_FDS.flatMap((fd) => calls(fd).map(out)).join('\n')} ${readBack}
      (call $flush) (call $emit (i32.const 1024) (i32.const 64))`;
    const r = await run(body, new Uint8Array(0), false);
    expect(r.values).toEqual([...ALL_FDS.flatMap((fd) => calls(fd).map(() => EBADF)), EBADF]);
    expect(new TextDecoder().decode(r.rest)).not.toContain('host file');
    expect(snapshot(cwd)).toEqual(before);
  });

  it('sock_*: ENOTSOCK on fd 0-2, EBADF on made-up fds (node:wasi segfaults the process on these)', async () => {
    const iov = '(i32.store (i32.const 128) (i32.const 1024)) (i32.store (i32.const 132) (i32.const 64))';
    const calls = (fd: number) => [
      `(call $sock_accept ${i32(fd)} ${i32(0)} ${i32(256)})`,
      `(call $sock_recv ${i32(fd)} ${i32(128)} ${i32(1)} ${i32(0)} ${i32(256)} ${i32(260)})`,
      `(call $sock_send ${i32(fd)} ${i32(128)} ${i32(1)} ${i32(0)} ${i32(256)})`,
      ...[0, 1, 2, 3].map((how) => `(call $sock_shutdown ${i32(fd)} ${i32(how)})`),
    ];
    const r = await run(iov + ALL_FDS.flatMap((fd) => calls(fd).map(out)).join('\n'));
    const expected = ALL_FDS.flatMap((fd) => calls(fd).map(() => (fd >= 0 && fd <= 2 ? ENOTSOCK : EBADF)));
    expect(r.values).toEqual(expected);
    expect(snapshot(cwd)).toEqual(before);
  });

  it('fd_*: the answers on fd 0-2, EBADF on every made-up fd', async () => {
    const iov = '(i32.store (i32.const 128) (i32.const 1024)) (i32.store (i32.const 132) (i32.const 64))';
    // [call, errno on fd 0, fd 1, fd 2]; fd_close is tested on its own below.
    const table: [(fd: number) => string, number, number, number][] = [
      [(fd) => `(call $fd_advise ${i32(fd)} ${i64(0)} ${i64(100)} ${i32(1)})`, SUCCESS, SUCCESS, SUCCESS],
      [(fd) => `(call $fd_allocate ${i32(fd)} ${i64(0)} ${i64(100)})`, ENOTSUP, ENOTSUP, ENOTSUP],
      [(fd) => `(call $fd_datasync ${i32(fd)})`, SUCCESS, SUCCESS, SUCCESS],
      [(fd) => `(call $fd_sync ${i32(fd)})`, SUCCESS, SUCCESS, SUCCESS],
      [(fd) => `(call $fd_fdstat_get ${i32(fd)} ${i32(1024)})`, SUCCESS, SUCCESS, SUCCESS],
      [(fd) => `(call $fd_fdstat_set_flags ${i32(fd)} ${i32(0)})`, SUCCESS, SUCCESS, SUCCESS],
      [(fd) => `(call $fd_fdstat_set_flags ${i32(fd)} ${i32(1)})`, ENOTSUP, ENOTSUP, ENOTSUP],
      [(fd) => `(call $fd_fdstat_set_rights ${i32(fd)} ${i64(0)} ${i64(0)})`, ENOTSUP, ENOTSUP, ENOTSUP],
      [(fd) => `(call $fd_filestat_get ${i32(fd)} ${i32(1024)})`, SUCCESS, SUCCESS, SUCCESS],
      [(fd) => `(call $fd_filestat_set_size ${i32(fd)} ${i64(0)})`, ENOTSUP, ENOTSUP, ENOTSUP],
      [
        (fd) => `(call $fd_filestat_set_times ${i32(fd)} ${i64(0)} ${i64(0)} ${i32(10)})`,
        ENOTSUP,
        ENOTSUP,
        ENOTSUP,
      ],
      [
        (fd) => `(call $fd_pread ${i32(fd)} ${i32(128)} ${i32(1)} ${i64(0)} ${i32(256)})`,
        ESPIPE,
        ESPIPE,
        ESPIPE,
      ],
      [
        (fd) => `(call $fd_pwrite ${i32(fd)} ${i32(128)} ${i32(1)} ${i64(0)} ${i32(256)})`,
        ESPIPE,
        ESPIPE,
        ESPIPE,
      ],
      [(fd) => `(call $fd_seek ${i32(fd)} ${i64(0)} ${i32(1)} ${i32(256)})`, ESPIPE, ESPIPE, ESPIPE],
      [(fd) => `(call $fd_tell ${i32(fd)} ${i32(256)})`, ESPIPE, ESPIPE, ESPIPE],
      [(fd) => `(call $fd_prestat_get ${i32(fd)} ${i32(256)})`, EBADF, EBADF, EBADF],
      [(fd) => `(call $fd_prestat_dir_name ${i32(fd)} ${i32(1024)} ${i32(64)})`, EBADF, EBADF, EBADF],
      [
        (fd) => `(call $fd_readdir ${i32(fd)} ${i32(1024)} ${i32(64)} ${i64(0)} ${i32(256)})`,
        ENOTSUP,
        ENOTSUP,
        ENOTSUP,
      ],
      [(fd) => `(call $fd_renumber ${i32(fd)} ${i32(fd)})`, ENOTSUP, ENOTSUP, ENOTSUP],
      [(fd) => `(call $fd_renumber ${i32(fd)} ${i32(5)})`, EBADF, EBADF, EBADF],
      // Zero iovecs: moves no bytes, so the recorded output stays as it is.
      [(fd) => `(call $fd_read ${i32(fd)} ${i32(128)} ${i32(0)} ${i32(256)})`, SUCCESS, EBADF, EBADF],
      [(fd) => `(call $fd_write ${i32(fd)} ${i32(128)} ${i32(0)} ${i32(256)})`, EBADF, SUCCESS, SUCCESS],
    ];
    const body = ALL_FDS.flatMap((fd) => table.map(([call]) => out(call(fd)))).join('\n');
    const r = await run(iov + body);
    const expected = ALL_FDS.flatMap((fd) =>
      table.map(([, e0, e1, e2]) => (fd === 0 ? e0 : fd === 1 ? e1 : fd === 2 ? e2 : EBADF)),
    );
    expect(r.values).toEqual(expected);
    // fd_close on a made-up fd.
    const closed = await run(MADE_UP_FDS.map((fd) => out(`(call $fd_close ${i32(fd)})`)).join(''));
    expect(closed.values).toEqual(MADE_UP_FDS.map(() => EBADF));
  });

  it('fd_fdstat_get / fd_filestat_get on fd 0-2: filetype unknown (not a tty), rights per stream', async () => {
    const body = STDIO_FDS.map(
      (fd) => `${out(`(call $fd_fdstat_get ${i32(fd)} ${i32(1024 + fd * 24)})`)}
        ${out(`(call $fd_filestat_get ${i32(fd)} ${i32(1200 + fd * 64)})`)}
        (call $emit ${i32(1024 + fd * 24)} ${i32(24)}) (call $emit ${i32(1200 + fd * 64)} ${i32(64)})`,
    ).join('\n');
    const id = await rt.register(await compileWat('guest.wat', guest(body)));
    const output = (await rt.invoke(id, new Uint8Array(0))).output;
    // The emits come before the flush here: 3 × (24 + 64) bytes, then the record.
    const stats = output.subarray(0, 3 * 88);
    expect(decode(output.subarray(3 * 88)).values).toEqual([0, 0, 0, 0, 0, 0]);
    const dv = new DataView(stats.buffer, stats.byteOffset, stats.byteLength);
    const FD_READ = 1n << 1n;
    const FD_WRITE = 1n << 6n;
    const FD_FILESTAT_GET = 1n << 21n;
    const POLL_FD_READWRITE = 1n << 27n;
    for (const fd of STDIO_FDS) {
      const at = fd * 88;
      expect(dv.getUint8(at)).toBe(0); // filetype unknown
      expect(dv.getUint16(at + 2, true)).toBe(0); // fdflags
      const io = fd === 0 ? FD_READ : FD_WRITE;
      expect(dv.getBigUint64(at + 8, true)).toBe(io | FD_FILESTAT_GET | POLL_FD_READWRITE);
      expect(dv.getBigUint64(at + 16, true)).toBe(0n);
      expect([...stats.subarray(at + 24, at + 88)]).toEqual(new Array(64).fill(0)); // filestat, type 0
    }
  });

  it('fd_close: stdin, stdout and stderr close for this call only; using them after is EBADF', async () => {
    // stdout is closed, so the results go out as the exit code: (sum of the three closes) * 10^6 +
    // write errno * 10^4 + second close of fd 1 * 100 + read errno; a write to fd 2 that is not
    // EBADF traps.
    const code = `(func $code (result i32)
      (local $close i32) (local $write i32) (local $again i32) (local $read i32)
      (i32.store (i32.const 128) (i32.const 1024)) (i32.store (i32.const 132) (i32.const 4))
      (local.set $close (i32.add (call $fd_close (i32.const 1))
        (i32.add (call $fd_close (i32.const 0)) (call $fd_close (i32.const 2)))))
      (local.set $write (call $fd_write (i32.const 1) (i32.const 128) (i32.const 1) (i32.const 256)))
      (local.set $again (call $fd_close (i32.const 1)))
      (local.set $read (call $fd_read (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 256)))
      (if (i32.ne (call $fd_write (i32.const 2) (i32.const 128) (i32.const 1) (i32.const 256)) (i32.const 8))
        (then (unreachable)))
      (i32.add (i32.mul (local.get $close) (i32.const 1000000))
        (i32.add (i32.mul (local.get $write) (i32.const 10000))
          (i32.add (i32.mul (local.get $again) (i32.const 100)) (local.get $read)))))`;
    const wasm = await compileWat(
      'guest.wat',
      guest('(call $proc_exit (call $code))', { extra: code, flush: false }),
    );
    const id = await rt.register(wasm);
    const err = await expectCode(rt.invoke(id, new TextEncoder().encode('input')), 'FUNCTION_EXIT_NONZERO');
    expect(err.info.exitCode).toBe(EBADF * 10000 + EBADF * 100 + EBADF);
    // The next call has fresh streams.
    expect((await run(out(`(call $fd_write ${i32(1)} ${i32(128)} ${i32(0)} ${i32(256)})`))).values).toEqual([
      SUCCESS,
    ]);
  });

  it('args and environ: argv = ["function"], an empty but valid environment', async () => {
    const body = `
      ${out(`(call $args_sizes_get ${i32(256)} ${i32(260)})`)}
      (call $out (i32.load (i32.const 256))) (call $out (i32.load (i32.const 260)))
      ${out(`(call $args_get ${i32(512)} ${i32(1024)})`)}
      (call $out (i32.load (i32.const 512)))
      (i32.store (i32.const 264) (i32.const -1)) (i32.store (i32.const 268) (i32.const -1))
      ${out(`(call $environ_sizes_get ${i32(264)} ${i32(268)})`)}
      (call $out (i32.load (i32.const 264))) (call $out (i32.load (i32.const 268)))
      ${out(`(call $environ_get ${i32(600)} ${i32(2048)})`)}
      (call $flush) (call $emit (i32.const 1024) (i32.const 9))`;
    const r = await run(body, new Uint8Array(0), false);
    expect(r.values).toEqual([SUCCESS, 1, 9, SUCCESS, 1024, SUCCESS, 0, 0, SUCCESS]);
    expect(new TextDecoder().decode(r.rest)).toBe('function\0');
  });

  it('bad pointers are EFAULT and oversized iovec arrays EINVAL, not a host crash', async () => {
    const end = MEMORY_BYTES;
    const faults = [
      `(call $args_sizes_get ${i32(-1)} ${i32(256)})`,
      `(call $args_get ${i32(256)} ${i32(end - 8)})`, // "function\0" is 9 bytes
      `(call $environ_sizes_get ${i32(256)} ${i32(end - 3)})`,
      `(call $clock_time_get ${i32(1)} ${i64(0)} ${i32(-8)})`,
      `(call $clock_res_get ${i32(0)} ${i32(end - 6)})`,
      `(call $fd_fdstat_get ${i32(1)} ${i32(end - 20)})`,
      `(call $fd_filestat_get ${i32(0)} ${i32(-1)})`,
      `(call $random_get ${i32(end - 50)} ${i32(100)})`,
      `(call $random_get ${i32(-1)} ${i32(2)})`,
      `(call $poll_oneoff ${i32(end - 40)} ${i32(2048)} ${i32(1)} ${i32(256)})`,
      `(call $poll_oneoff ${i32(1024)} ${i32(-32)} ${i32(1)} ${i32(256)})`,
      `(call $fd_read ${i32(0)} ${i32(end - 4)} ${i32(1)} ${i32(256)})`, // the iovec array
      `(call $fd_read ${i32(0)} ${i32(128)} ${i32(1)} ${i32(256)})`, // its buffer
      `(call $fd_read ${i32(0)} ${i32(128)} ${i32(0)} ${i32(-2)})`, // nread
      `(call $fd_write ${i32(2)} ${i32(-4)} ${i32(1)} ${i32(256)})`,
    ];
    const invalid = [`(call $fd_write ${i32(1)} ${i32(128)} ${i32(1025)} ${i32(256)})`]; // IOV_MAX 1024
    // 128: an iovec whose buffer runs past the end of memory.
    const setup = `(i32.store (i32.const 128) ${i32(end - 50)}) (i32.store (i32.const 132) (i32.const 100))`;
    const r = await run(setup + [...faults, ...invalid].map(out).join('\n'));
    expect(r.values).toEqual([...faults.map(() => EFAULT), EINVAL]);
  });

  it('clocks: realtime, monotonic and the CPU-time clocks; unknown clocks are EINVAL', async () => {
    const body = `
      ${[0, 1, 2, 3, 4, -1].map((id) => `${out(`(call $clock_res_get ${i32(id)} ${i32(512)})`)} (call $out64 (i64.load (i32.const 512)))`).join('\n')}
      ${[0, 1, 2, 3, 1, 4, 99].map((id) => `${out(`(call $clock_time_get ${i32(id)} ${i64(0)} ${i32(512)})`)} (call $out64 (i64.load (i32.const 512)))`).join('\n')}`;
    const t0 = BigInt(Date.now()) * 1_000_000n;
    const { values } = await run(body);
    const t1 = BigInt(Date.now()) * 1_000_000n;
    // clock_res_get: [errno, lo, hi] × 6; a failed call leaves the slot as it was.
    expect([0, 3, 6, 9].map((k) => values[k])).toEqual([SUCCESS, SUCCESS, SUCCESS, SUCCESS]);
    expect([1, 4, 7, 10].map((k) => u64(values, k))).toEqual([1_000_000n, 1n, 1n, 1n]);
    expect([values[12], values[15]]).toEqual([EINVAL, EINVAL]);
    const at = (k: number) => 18 + 3 * k; // clock_time_get: [errno, lo, hi] × 7
    expect([0, 1, 2, 3, 4].map((k) => values[at(k)])).toEqual([0, 0, 0, 0, 0]);
    const realtime = u64(values, at(0) + 1);
    expect(realtime >= t0 - 1_000_000n && realtime <= t1).toBe(true);
    const cpu = u64(values, at(2) + 1);
    expect(cpu > 0n && cpu < 500_000_000n).toBe(true); // elapsed in this invocation, under the wall limit
    expect(u64(values, at(3) + 1) >= cpu).toBe(true);
    expect(u64(values, at(4) + 1) >= u64(values, at(1) + 1)).toBe(true); // monotonic
    expect([values[at(5)], values[at(6)]]).toEqual([EINVAL, EINVAL]);
  });

  /** Writes a subscription (witx `subscription`, 48 bytes) at `at`. */
  const clockSub = (at: number, userdata: number, id: number, timeout: string, flags = 0) =>
    `(i64.store ${i32(at)} ${i64(userdata)}) (i32.store8 ${i32(at + 8)} ${i32(0)})
     (i32.store ${i32(at + 16)} ${i32(id)}) (i64.store ${i32(at + 24)} ${timeout})
     (i32.store16 ${i32(at + 40)} ${i32(flags)})`;
  const fdSub = (at: number, userdata: number, type: number, fd: number) =>
    `(i64.store ${i32(at)} ${i64(userdata)}) (i32.store8 ${i32(at + 8)} ${i32(type)}) (i32.store ${i32(at + 16)} ${i32(fd)})`;
  /** Records errno, nevents, then each event (witx `event`, 32 bytes at 2048..). */
  const pollAndRecord = (n: number, maxEvents: number) => `
    ${out(`(call $poll_oneoff ${i32(1024)} ${i32(2048)} ${i32(n)} ${i32(600)})`)}
    (call $out (i32.load (i32.const 600)))
    ${Array.from(
      { length: maxEvents },
      (
        _,
        k,
      ) => `(call $out64 (i64.load ${i32(2048 + 32 * k)})) (call $out (i32.load16_u ${i32(2056 + 32 * k)}))
        (call $out (i32.load8_u ${i32(2058 + 32 * k)})) (call $out64 (i64.load ${i32(2064 + 32 * k)}))
        (call $out (i32.load16_u ${i32(2072 + 32 * k)}))`,
    ).join('\n')}`;
  /** Elapsed monotonic nanoseconds around `body`, recorded as a u64 first. */
  const timed = (body: string) => `
    (drop (call $clock_time_get ${i32(1)} ${i64(0)} ${i32(512)})) ${body}
    (drop (call $clock_time_get ${i32(1)} ${i64(0)} ${i32(520)}))
    (call $out64 (i64.sub (i64.load (i32.const 520)) (i64.load (i32.const 512))))`;
  /** `count` recorded events from values[start]: 7 values each (as pollAndRecord writes them). */
  const events = (values: number[], start: number, count: number) =>
    Array.from({ length: count }, (_, k) => {
      const at = start + 7 * k;
      return {
        userdata: u64(values, at),
        error: values[at + 2],
        type: values[at + 3],
        nbytes: u64(values, at + 4),
        flags: values[at + 6],
      };
    });

  it('poll_oneoff: a relative 50 ms sleep returns after at least 50 ms with its clock event', async () => {
    const t0 = performance.now();
    const { values } = await run(
      timed(`${clockSub(1024, 0x1234, 1, i64(50_000_000))} ${pollAndRecord(1, 1)}`),
    );
    const wall = performance.now() - t0;
    // Recorded order: errno, nevents, the event, then elapsed.
    expect(values.slice(0, 2)).toEqual([SUCCESS, 1]);
    expect(events(values, 2, 1)).toEqual([{ userdata: 0x1234n, error: 0, type: 0, nbytes: 0n, flags: 0 }]);
    const elapsed = u64(values, 9);
    expect(elapsed >= 50_000_000n).toBe(true);
    expect(elapsed < 400_000_000n).toBe(true);
    expect(wall).toBeGreaterThanOrEqual(50);
  });

  it('poll_oneoff: absolute monotonic and realtime deadlines, the earliest timer wins', async () => {
    // Timer 1: monotonic, absolute, now + 30 ms; timer 2: realtime, relative, 2 s. Only 1 fires.
    const body = timed(`
      (drop (call $clock_time_get ${i32(1)} ${i64(0)} ${i32(528)}))
      ${clockSub(1024, 1, 1, '(i64.add (i64.load (i32.const 528)) (i64.const 30000000))', 1)}
      ${clockSub(1072, 2, 0, i64(2_000_000_000))}
      (drop (call $poll_oneoff ${i32(1024)} ${i32(2048)} ${i32(2)} ${i32(600)}))`);
    const { values } = await run(`${body}
      (call $out (i32.load (i32.const 600))) (call $out64 (i64.load (i32.const 2048)))
      ${out(`(call $clock_time_get ${i32(0)} ${i64(0)} ${i32(536)})`)}
      ${clockSub(1024, 3, 0, '(i64.add (i64.load (i32.const 536)) (i64.const 20000000))', 1)}
      ${timed(`(drop (call $poll_oneoff ${i32(1024)} ${i32(2048)} ${i32(1)} ${i32(600)}))`)}
      (call $out (i32.load (i32.const 600))) (call $out64 (i64.load (i32.const 2048)))`);
    const first = u64(values, 0);
    expect(first >= 30_000_000n && first < 1_000_000_000n).toBe(true);
    expect(values[2]).toBe(1); // one event
    expect(u64(values, 3)).toBe(1n); // the monotonic timer
    expect(values[5]).toBe(SUCCESS);
    // Realtime absolute, now + 20 ms (realtime has 1 ms resolution).
    const second = u64(values, 6);
    expect(second >= 18_000_000n && second < 1_000_000_000n).toBe(true);
    expect(values[8]).toBe(1);
    expect(u64(values, 9)).toBe(3n);
  });

  it('poll_oneoff: fd events are ready at once, errors are per event, bad calls are EINVAL', async () => {
    const input = new TextEncoder().encode('hello');
    // fd_read on 0 (5 bytes left), fd_write on 1 and 2, fd_read on 1, fd_write on 0, fd_read on 7,
    // a CPU-time timer, an unknown clock, and a 10 s timer that does not fire.
    const subs = [
      fdSub(1024, 10, 1, 0),
      fdSub(1072, 11, 2, 1),
      fdSub(1120, 12, 2, 2),
      fdSub(1168, 13, 1, 1),
      fdSub(1216, 14, 2, 0),
      fdSub(1264, 15, 1, 7),
      clockSub(1312, 16, 2, i64(1000)),
      clockSub(1360, 17, 9, i64(1000)),
      clockSub(1408, 18, 1, i64(10_000_000_000)),
    ].join('\n');
    const { values } = await run(timed(`${subs} ${pollAndRecord(9, 8)}`), input);
    // Nothing waited for the 10 s timer: elapsed (recorded last by timed()) is short.
    expect(u64(values, values.length - 2) < 1_000_000_000n).toBe(true);
    expect(values.slice(0, 2)).toEqual([SUCCESS, 8]);
    expect(events(values, 2, 8)).toEqual([
      { userdata: 10n, error: 0, type: 1, nbytes: 5n, flags: 0 },
      { userdata: 11n, error: 0, type: 2, nbytes: BigInt(LIMITS.maxOutputBytes), flags: 0 },
      { userdata: 12n, error: 0, type: 2, nbytes: BigInt(MAX_LOG_BYTES), flags: 0 },
      { userdata: 13n, error: EBADF, type: 1, nbytes: 0n, flags: 0 },
      { userdata: 14n, error: EBADF, type: 2, nbytes: 0n, flags: 0 },
      { userdata: 15n, error: EBADF, type: 1, nbytes: 0n, flags: 0 },
      { userdata: 16n, error: ENOTSUP, type: 0, nbytes: 0n, flags: 0 },
      { userdata: 17n, error: EINVAL, type: 0, nbytes: 0n, flags: 0 },
    ]);
    // At the end of the input, fd_read reports a hang-up (eventrwflags bit 0).
    const eof = await run(`${fdSub(1024, 20, 1, 0)} ${pollAndRecord(1, 1)}`);
    expect(events(eof.values, 2, 1)).toEqual([{ userdata: 20n, error: 0, type: 1, nbytes: 0n, flags: 1 }]);
    // No subscriptions, or an unknown event type: EINVAL for the call.
    const bad = await run(`${out(`(call $poll_oneoff ${i32(1024)} ${i32(2048)} ${i32(0)} ${i32(600)})`)}
      ${fdSub(1024, 21, 3, 0)} ${out(`(call $poll_oneoff ${i32(1024)} ${i32(2048)} ${i32(1)} ${i32(600)})`)}`);
    expect(bad.values).toEqual([EINVAL, EINVAL]);
  });

  it('poll_oneoff: a guest that sleeps forever is stopped at the wall-time limit', async () => {
    const id = await rt.register(
      await compileWat('guest.wat', guest(`${clockSub(1024, 1, 1, i64(-1))} ${pollAndRecord(1, 1)}`)),
    );
    const t0 = performance.now();
    await expectCode(rt.invoke(id, new Uint8Array(0)), 'FUNCTION_TIMEOUT');
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(LIMITS.wallTimeMs - 5);
    expect(elapsed).toBeLessThan(LIMITS.wallTimeMs + 1500);
  });

  it('proc_raise is ENOTSUP for every signal, and delivers none (SIGTERM, SIGKILL, SIGINT, SIGSEGV)', async () => {
    // witx `signal`: int 2, kill 9, segv 11, term 15; uvwasi would raise them in the host process.
    const r = await run([0, 2, 9, 11, 15, 255].map((sig) => out(`(call $proc_raise ${i32(sig)})`)).join(''));
    expect(r.values).toEqual([ENOTSUP, ENOTSUP, ENOTSUP, ENOTSUP, ENOTSUP, ENOTSUP]);
  });

  it('random_get fills any length (across 64 KiB chunks) and sched_yield succeeds', async () => {
    const body = `${out(`(call $random_get ${i32(131_072)} ${i32(100_000)})`)}
      ${out(`(call $random_get ${i32(1024)} ${i32(0)})`)} ${out('(call $sched_yield)')}
      (call $flush) (call $emit (i32.const 131072) (i32.const 100000))`;
    const id = await rt.register(await compileWat('guest.wat', guest(body, { flush: false })));
    const a = decode((await rt.invoke(id, new Uint8Array(0))).output);
    const b = decode((await rt.invoke(id, new Uint8Array(0))).output);
    expect(a.values).toEqual([SUCCESS, SUCCESS, SUCCESS]);
    expect(a.rest.length).toBe(100_000);
    // Filled to the end: no 4 KiB run of zeros anywhere (chance 2^-32768 per run), and fresh each call.
    for (let at = 0; at + 4096 <= a.rest.length; at += 4096) {
      expect(a.rest.subarray(at, at + 4096).some((x) => x !== 0)).toBe(true);
    }
    expect(a.rest.subarray(99_000).some((x) => x !== 0)).toBe(true);
    expect(Buffer.from(a.rest).equals(Buffer.from(b.rest))).toBe(false);
  });

  it('nothing in the working directory was read, changed or created by any guest', () => {
    expect(snapshot(cwd)).toEqual(before);
  });
});

describe('worker results carry partial stdout', () => {
  const runWat = async (
    wat: string,
    opts: { maxOutputBytes?: number; features?: Parameters<typeof compileWat>[2] } = {},
  ) => runInWorker(await compileWat('guest.wat', wat, opts.features), opts);
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const write = (fd: number, s: string, at: number) =>
    `(i32.store (i32.const 0) (i32.const ${at})) (i32.store (i32.const 4) (i32.const ${s.length}))
     (drop (call $fd_write (i32.const ${fd}) (i32.const 0) (i32.const 1) (i32.const 8)))`;
  const module = (body: string, data: string) => `(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
    (memory (export "memory") 1) ${data}
    (func (export "_start") ${body}))`;

  it('a trap returns what was written before it', async () => {
    const r = await runWat(
      module(
        `${write(1, 'partial', 64)} ${write(2, 'oops', 80)} unreachable`,
        '(data (i32.const 64) "partial") (data (i32.const 80) "oops")',
      ),
    );
    expect(r.status).toBe('trap');
    expect(text(r.output)).toBe('partial');
    expect(text(r.stderr)).toBe('oops');
  });

  it('the output limit returns the bytes up to the limit', async () => {
    const r = await runWat(module(write(1, '0123456789', 64), '(data (i32.const 64) "0123456789")'), {
      maxOutputBytes: 4,
    });
    expect(r.status).toBe('output-limit');
    expect(text(r.output)).toBe('0123');
  });

  it('a non-zero exit returns its output; writes after a caught proc_exit are refused', async () => {
    const r = await runWat(
      module(
        `${write(1, 'before', 64)} (try (do (call $proc_exit (i32.const 7))) (catch_all)) ${write(1, 'after', 80)}`,
        '(data (i32.const 64) "before") (data (i32.const 80) "after")',
      ),
      { features: { exceptions: true } },
    );
    expect(r).toMatchObject({ status: 'exit', exitCode: 7 });
    expect(text(r.output)).toBe('before');
  });

  it('proc_exit from a start function (during instantiation) is an exit, not a trap', async () => {
    const r = await runWat(`(module
      (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
      (memory (export "memory") 1) (func $init (call $proc_exit (i32.const 3))) (start $init)
      (func (export "_start") unreachable))`);
    expect(r).toMatchObject({ status: 'exit', exitCode: 3 });
  });
});

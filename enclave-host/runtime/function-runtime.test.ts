import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExample, compileWat } from '../../examples/build-example.js';
import { expectEnclaveHostError as expectCode } from '../../test/error-code.js';
import { FunctionRuntime, functionOutputOf, type RuntimeLimits } from './function-runtime.js';

const LIMITS: RuntimeLimits = {
  memoryBytes: 16 * 1024 * 1024,
  wallTimeMs: 200,
  maxInputBytes: 256 * 1024,
  maxOutputBytes: 128 * 1024,
};

const enc = new TextEncoder();
const dec = new TextDecoder();

/** FNV-1a 32-bit, the reference for examples/transform.wat. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

/** Naive reference for examples/matmul.wat: wrapping int32 arithmetic. */
function matmul(n: number, a: Int32Array, b: Int32Array): Int32Array {
  const c = new Int32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s = (s + Math.imul(a[i * n + k]!, b[k * n + j]!)) | 0;
      c[i * n + j] = s;
    }
  }
  return c;
}

function matmulInput(n: number, a: Int32Array, b: Int32Array): Uint8Array {
  const buf = new Uint8Array(4 + 8 * n * n);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, n, true);
  for (const [i, v] of a.entries()) dv.setInt32(4 + 4 * i, v, true);
  for (const [i, v] of b.entries()) dv.setInt32(4 + 4 * n * n + 4 * i, v, true);
  return buf;
}

function int32s(bytes: Uint8Array): Int32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Int32Array.from({ length: bytes.length / 4 }, (_, i) => dv.getInt32(4 * i, true));
}

describe('FunctionRuntime', () => {
  /** stderr of a function error, as the caller gets it. */
  const stderrOf = (e: unknown) => dec.decode(functionOutputOf(e)?.stderr ?? new Uint8Array(0));
  let rt: FunctionRuntime;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    rt = new FunctionRuntime({ workers: 2, limits: LIMITS });
    for (const name of [
      'echo',
      'sha256',
      'transform',
      'matmul',
      'trap',
      'exit-nonzero',
      'memory-bomb',
      'spew',
    ] as const) {
      ids[name] = await rt.register(await buildExample(name));
    }
    ids['infinite-loop'] = await rt.register(await buildExample('infinite-loop'));
  });
  afterAll(async () => {
    await rt.close();
  });

  it('names a function by the SHA-256 of its module bytes, and registering again is idempotent', async () => {
    const wasm = await buildExample('echo');
    const id = await rt.register(wasm);
    expect(id).toBe(createHash('sha256').update(wasm).digest('hex'));
    expect(id).toBe(ids.echo);
    expect(rt.has(id)).toBe(true);
  });

  it('echo: stdin to stdout, including empty input, with usage', async () => {
    const r = await rt.invoke(ids.echo!, enc.encode('hello'));
    expect(dec.decode(r.output)).toBe('hello');
    expect(typeof r.usage.wallMicros).toBe('bigint');
    expect(r.usage.wallMicros).toBeGreaterThan(0n);
    expect((await rt.invoke(ids.echo!, new Uint8Array(0))).output.length).toBe(0);
  });

  it('echo: carries inputs larger than its read chunk byte for byte', async () => {
    const input = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31) & 0xff);
    const r = await rt.invoke(ids.echo!, input);
    expect(Buffer.from(r.output).equals(input)).toBe(true);
  });

  it('transform: FNV-1a checksum line, then the upper-cased input', async () => {
    for (const text of ['', 'hello world', 'MiXeD 123 äöü {}~', 'z'.repeat(70_000)]) {
      const input = enc.encode(text);
      const out = dec.decode((await rt.invoke(ids.transform!, input)).output);
      const expected = `${fnv1a(input).toString(16).padStart(8, '0')}\n${text.replace(/[a-z]/g, (c) => c.toUpperCase())}`;
      expect(out).toBe(expected);
    }
    expect(fnv1a(enc.encode('hello world')).toString(16)).toBe('d58b3fa7');
  });

  it('sha256: the FIPS 180-4 digest, in hex, at every padding boundary', async () => {
    for (const size of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 65_536, 200_000]) {
      const input = Uint8Array.from({ length: size }, (_, i) => (i * 7 + 3) & 0xff);
      const r = await rt.invoke(ids.sha256!, input);
      expect(dec.decode(r.output)).toBe(createHash('sha256').update(input).digest('hex'));
    }
    const abc = await rt.invoke(ids.sha256!, enc.encode('abc'));
    expect(dec.decode(abc.output)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('matmul: matches the naive reference, wrapping modulo 2^32', async () => {
    let seed = 12345;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) | 0;
      return seed;
    };
    for (const n of [0, 1, 2, 3, 7, 16, 33]) {
      const a = Int32Array.from({ length: n * n }, () => (n === 33 ? next() : (next() % 100) | 0));
      const b = Int32Array.from({ length: n * n }, () => (next() % 100) | 0);
      const r = await rt.invoke(ids.matmul!, matmulInput(n, a, b));
      expect(int32s(r.output)).toEqual(matmul(n, a, b));
    }
  });

  it('matmul: a wrong input length is a non-zero exit with its stderr', async () => {
    const err = await expectCode(rt.invoke(ids.matmul!, new Uint8Array(9)), 'FUNCTION_EXIT_NONZERO');
    expect(err.info.exitCode).toBe(2);
    expect(stderrOf(err)).toBe('matmul: bad input length\n');
  });

  it('trap: FUNCTION_TRAPPED, stderr returned with the error, and the pool serves the next call', async () => {
    const err = await expectCode(rt.invoke(ids.trap!, new Uint8Array(0)), 'FUNCTION_TRAPPED');
    expect(err.kind).toBe('function');
    expect(String(err.info.trap)).toContain('unreachable');
    expect(stderrOf(err)).toBe('trap: about to execute unreachable\n');
    expect(functionOutputOf(err)?.stderrDropped).toBe(0);
    expect(dec.decode((await rt.invoke(ids.echo!, enc.encode('next'))).output)).toBe('next');
  });

  it('non-zero exit: FUNCTION_EXIT_NONZERO with the code; partial output is not returned', async () => {
    const err = await expectCode(rt.invoke(ids['exit-nonzero']!, new Uint8Array(0)), 'FUNCTION_EXIT_NONZERO');
    expect(err.info.exitCode).toBe(3);
    expect(err.message).toContain('code 3');
    expect(stderrOf(err)).toBe('exit-nonzero: giving up with code 3\n');
  });

  it('timeout: FUNCTION_TIMEOUT near the wall limit, and the pool serves the next calls', async () => {
    const t0 = performance.now();
    const err = await expectCode(rt.invoke(ids['infinite-loop']!, new Uint8Array(0)), 'FUNCTION_TIMEOUT');
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(LIMITS.wallTimeMs - 5);
    expect(elapsed).toBeLessThan(LIMITS.wallTimeMs + 1500);
    expect(err.info.wallTimeMs).toBe(LIMITS.wallTimeMs);
    const outs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => rt.invoke(ids.echo!, enc.encode(`after ${i}`))),
    );
    expect(outs.map((o) => dec.decode(o.output))).toEqual(Array.from({ length: 8 }, (_, i) => `after ${i}`));
  });

  it('timeouts on every worker at once: queued calls are still served', async () => {
    const loops = [0, 1].map(() => rt.invoke(ids['infinite-loop']!, new Uint8Array(0)));
    const queued = rt.invoke(ids.echo!, enc.encode('queued'));
    for (const p of loops) await expectCode(p, 'FUNCTION_TIMEOUT');
    expect(dec.decode((await queued).output)).toBe('queued');
  });

  it('memory bomb: FUNCTION_MEMORY_LIMIT at the cap, and the pool serves the next call', async () => {
    const err = await expectCode(rt.invoke(ids['memory-bomb']!, new Uint8Array(0)), 'FUNCTION_MEMORY_LIMIT');
    expect(err.info.memoryBytes).toBe(LIMITS.memoryBytes);
    expect(dec.decode((await rt.invoke(ids.echo!, enc.encode('alive'))).output)).toBe('alive');
  });

  it('a trap in a module that starts at its memory cap is a trap, not a memory-limit error', async () => {
    const pages = LIMITS.memoryBytes / 65536;
    const wasm = await compileWat(
      'x.wat',
      `(module (memory (export "memory") ${pages} ${pages}) (func (export "_start") unreachable))`,
    );
    await expectCode(rt.invoke(await rt.register(wasm), new Uint8Array(0)), 'FUNCTION_TRAPPED');
  });

  it('input over the limit: INPUT_TOO_LARGE before anything runs; at the limit it runs', async () => {
    const err = await expectCode(
      rt.invoke(ids.echo!, new Uint8Array(LIMITS.maxInputBytes + 1)),
      'INPUT_TOO_LARGE',
    );
    expect(err.kind).toBe('rejected');
    const big = await rt.invoke(ids.transform!, new Uint8Array(LIMITS.maxOutputBytes - 9));
    expect(big.output.length).toBe(LIMITS.maxOutputBytes);
  });

  it('output over the limit: OUTPUT_TOO_LARGE, for a bounded writer and an endless one', async () => {
    await expectCode(rt.invoke(ids.echo!, new Uint8Array(LIMITS.maxOutputBytes + 1)), 'OUTPUT_TOO_LARGE');
    const t0 = performance.now();
    await expectCode(rt.invoke(ids.spew!, new Uint8Array(0)), 'OUTPUT_TOO_LARGE');
    expect(performance.now() - t0).toBeLessThan(LIMITS.wallTimeMs);
    const exact = await rt.invoke(ids.echo!, new Uint8Array(LIMITS.maxOutputBytes));
    expect(exact.output.length).toBe(LIMITS.maxOutputBytes);
  });

  it('output over the limit stays an error even if the guest catches the unwind (exception handling)', async () => {
    const wasm = await compileWat(
      'x.wat',
      `(module
        (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 2)
        (func (export "_start") (local $i i32)
          (i32.store (i32.const 0) (i32.const 65536))
          (i32.store (i32.const 4) (i32.const 65536))
          (loop $l
            (try (do (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
              (catch_all))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (i32.const 10))))))`,
      { exceptions: true },
    );
    await expectCode(rt.invoke(await rt.register(wasm), new Uint8Array(0)), 'OUTPUT_TOO_LARGE');
  });

  it('unknown function: FUNCTION_NOT_FOUND', async () => {
    await expectCode(rt.invoke('00'.repeat(32), new Uint8Array(0)), 'FUNCTION_NOT_FOUND');
  });

  it('invalid modules are refused at register: garbage, not a command, foreign imports', async () => {
    await expectCode(rt.register(enc.encode('not wasm at all')), 'FUNCTION_INVALID_MODULE');
    const echo = await buildExample('echo');
    await expectCode(rt.register(echo.subarray(0, echo.length - 3)), 'FUNCTION_INVALID_MODULE');
    const noStart = await compileWat('x.wat', '(module (memory (export "memory") 1))');
    await expectCode(rt.register(noStart), 'FUNCTION_INVALID_MODULE');
    const noMemory = await compileWat('x.wat', '(module (func (export "_start")))');
    await expectCode(rt.register(noMemory), 'FUNCTION_INVALID_MODULE');
    const foreign = await compileWat(
      'x.wat',
      '(module (import "env" "f" (func)) (memory (export "memory") 1) (func (export "_start")))',
    );
    const err = await expectCode(rt.register(foreign), 'FUNCTION_INVALID_MODULE');
    expect(err.info).toMatchObject({ module: 'env', name: 'f' });
    const importedMemory = await compileWat(
      'x.wat',
      '(module (import "wasi_snapshot_preview1" "memory" (memory 1)) (export "memory" (memory 0)) (func (export "_start")))',
    );
    await expectCode(rt.register(importedMemory), 'FUNCTION_INVALID_MODULE');
  });

  it('memory: initial above the limit is refused; a larger declared maximum is capped', async () => {
    const pages = LIMITS.memoryBytes / 65536;
    const tooBig = await compileWat(
      'x.wat',
      `(module (memory (export "memory") ${pages + 1}) (func (export "_start")))`,
    );
    await expectCode(rt.register(tooBig), 'FUNCTION_MEMORY_LIMIT');
    // Declares a maximum of 4 GiB and reports how far memory.grow got, in 16-page units, as its exit code.
    const greedy = await compileWat(
      'x.wat',
      `(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1 65536)
        (func (export "_start")
          (block $full (loop $grow
            (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
            (br $grow)))
          (call $exit (i32.div_u (memory.size) (i32.const 16)))))`,
    );
    const id = await rt.register(greedy);
    const err = await expectCode(rt.invoke(id, new Uint8Array(0)), 'FUNCTION_EXIT_NONZERO');
    expect(err.info.exitCode).toBe(pages / 16);
  });

  it('stack overflow is a trap, not a crash', async () => {
    const wasm = await compileWat(
      'x.wat',
      '(module (memory (export "memory") 1) (func $f (call $f)) (func (export "_start") (call $f)))',
    );
    const err = await expectCode(rt.invoke(await rt.register(wasm), new Uint8Array(0)), 'FUNCTION_TRAPPED');
    expect(String(err.info.trap)).toContain('call stack');
  });

  it("sandbox: stdio is the runtime's, closing it is local, no files, bad pointers are EFAULT", async () => {
    const wasi = (name: string, sig: string) =>
      `(import "wasi_snapshot_preview1" "${name}" (func $${name} ${sig}))`;
    const prelude = `${wasi('fd_close', '(param i32) (result i32)')}
      ${wasi('fd_write', '(param i32 i32 i32 i32) (result i32)')}
      ${wasi('path_open', '(param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)')}
      ${wasi('proc_exit', '(param i32)')}
      ${wasi('proc_raise', '(param i32) (result i32)')}
      ${wasi('fd_filestat_set_times', '(param i32 i64 i64 i32) (result i32)')}
      (memory (export "memory") 1) (data (i32.const 16) "hi/etc/passwd")`;
    const run = async (body: string) => {
      const wasm = await compileWat('x.wat', `(module ${prelude} (func (export "_start") ${body}))`);
      return rt.invoke(await rt.register(wasm), new Uint8Array(0));
    };
    const write = '(call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))';
    const iov = '(i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 2))';
    // EBADF (8) after the guest closed its stdout; the next call has a fresh one.
    const closed = await expectCode(
      run(`(drop (call $fd_close (i32.const 1))) ${iov} (call $proc_exit ${write})`),
      'FUNCTION_EXIT_NONZERO',
    );
    expect(closed.info.exitCode).toBe(8);
    expect(dec.decode((await run(`${iov} (drop ${write})`)).output)).toBe('hi');
    // No preopened directories: path_open on fd 3 is EBADF.
    const open = await expectCode(
      run(`(call $proc_exit (call $path_open (i32.const 3) (i32.const 0) (i32.const 18) (i32.const 11)
        (i32.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 32)))`),
      'FUNCTION_EXIT_NONZERO',
    );
    expect(open.info.exitCode).toBe(8);
    // An iovec pointing past memory is EFAULT (21), not a host crash.
    const fault = await expectCode(
      run(`(i32.store (i32.const 0) (i32.const 65530)) (i32.store (i32.const 4) (i32.const 100))
        (call $proc_exit ${write})`),
      'FUNCTION_EXIT_NONZERO',
    );
    expect(fault.info.exitCode).toBe(21);
    // proc_raise would signal the host process in uvwasi: ENOTSUP (58), and we are still here.
    const raise = await expectCode(
      run('(call $proc_exit (call $proc_raise (i32.const 15)))'),
      'FUNCTION_EXIT_NONZERO',
    );
    expect(raise.info.exitCode).toBe(58);
    // No reaching through fd 1 to the host descriptor behind it.
    const touch = await expectCode(
      run(
        '(call $proc_exit (call $fd_filestat_set_times (i32.const 1) (i64.const 0) (i64.const 0) (i32.const 15)))',
      ),
      'FUNCTION_EXIT_NONZERO',
    );
    expect(touch.info.exitCode).toBe(58);
  });

  it('100 sequential and 32 concurrent invocations are all correct', async () => {
    for (let i = 0; i < 100; i++) {
      const input = enc.encode(`seq-${i}`);
      const r = await rt.invoke(ids.transform!, input);
      expect(dec.decode(r.output)).toBe(`${fnv1a(input).toString(16).padStart(8, '0')}\nSEQ-${i}`);
    }
    const results = await Promise.all(
      Array.from({ length: 32 }, (_, i) => rt.invoke(ids.echo!, enc.encode(`concurrent-${i}`))),
    );
    expect(results.map((r) => dec.decode(r.output))).toEqual(
      Array.from({ length: 32 }, (_, i) => `concurrent-${i}`),
    );
  });
});

describe('FunctionRuntime lifecycle and options', () => {
  it('close rejects in-flight and later calls with RUNTIME_CLOSED', async () => {
    const rt = new FunctionRuntime({ workers: 1, limits: { ...LIMITS, wallTimeMs: 10_000 } });
    const loop = await rt.register(await buildExample('infinite-loop'));
    const inFlight = expectCode(rt.invoke(loop, new Uint8Array(0)), 'RUNTIME_CLOSED');
    const queued = expectCode(rt.invoke(loop, new Uint8Array(0)), 'RUNTIME_CLOSED');
    await new Promise((r) => setTimeout(r, 50));
    await rt.close();
    await inFlight;
    await queued;
    await expectCode(rt.invoke(loop, new Uint8Array(0)), 'RUNTIME_CLOSED');
    await expectCode(rt.register(await buildExample('echo')), 'RUNTIME_CLOSED');
  });

  it('refuses bad limits with INVALID_ARGUMENT', () => {
    for (const limits of [
      { ...LIMITS, memoryBytes: 1000 },
      { ...LIMITS, wallTimeMs: 0 },
      { ...LIMITS, maxInputBytes: -1 },
      { ...LIMITS, maxOutputBytes: 1.5 },
    ]) {
      expect(() => new FunctionRuntime({ workers: 1, limits })).toThrowError(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
  });

  it('bounds the registry and the module size', async () => {
    const rt = new FunctionRuntime({
      workers: 1,
      limits: LIMITS,
      maxFunctions: 2,
      maxFunctionsPerOwner: 1,
      maxModuleBytes: 400,
    });
    try {
      const echo = await rt.register(await buildExample('echo'), 'a');
      // One owner holds at most its quota; undeploying frees its place.
      await expectCode(rt.register(await buildExample('trap'), 'a'), 'FUNCTION_TOO_MANY');
      expect(rt.unregister(echo, 'a')).toBe(true);
      expect(rt.has(echo)).toBe(false);
      const trap = await rt.register(await buildExample('trap'), 'a');
      // A full registry evicts the least recently used function instead of refusing a newcomer.
      const exit = await rt.register(await buildExample('exit-nonzero'), 'b');
      await rt.register(await buildExample('echo'), 'c');
      expect([rt.has(trap), rt.has(exit), rt.has(echo)]).toEqual([false, true, true]);
      await expectCode(rt.invoke(trap, new Uint8Array(0)), 'FUNCTION_NOT_FOUND');
      await expectCode(rt.register(await buildExample('matmul')), 'FUNCTION_MODULE_TOO_LARGE');
    } finally {
      await rt.close();
    }
  });

  it('truncates stderr at maxLogBytes and counts the dropped bytes', async () => {
    const rt = new FunctionRuntime({ workers: 1, limits: LIMITS, maxLogBytes: 10 });
    try {
      const id = await rt.register(await buildExample('trap'));
      const err = await expectCode(rt.invoke(id, new Uint8Array(0)), 'FUNCTION_TRAPPED');
      expect(dec.decode(functionOutputOf(err)!.stderr)).toBe('trap: abou');
      expect(functionOutputOf(err)!.stderrDropped).toBe(25);
    } finally {
      await rt.close();
    }
  });
});

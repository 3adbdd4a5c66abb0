import { fail } from '../errors.js';
import { type CompiledModule, wasmApi } from './wasm-api.js';

/*
 * Admission of a customer module: it must be a valid WASI preview 1 *command* (exports `_start` and
 * `memory`, imports only `wasi_snapshot_preview1` functions), and its linear memory must fit the
 * runtime's limit. The memory cap is enforced by the engine, not by us: we rewrite the module's
 * memory section so that its declared maximum is at most the limit, and `memory.grow` beyond it then
 * returns -1 as the spec says (WebAssembly core spec 2.0, §4.4.7 "memory.grow").
 *
 * Binary format references: WebAssembly core spec 2.0, §5.5.2 (sections: id byte, u32 LEB128 size,
 * payload), §5.5.8 (memory section: vec(memtype)), §5.3.8 (memtype = limits: 0x00 min | 0x01 min max;
 * 0x02/0x03 are the threads proposal's shared memories, 0x04..0x07 memory64).
 */

export const WASM_PAGE_BYTES = 65536;
const MEMORY_SECTION_ID = 5;
const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]; // "\0asm", version 1

/** The functions of WASI preview 1 (WebAssembly/WASI `legacy/preview1/witx/wasi_snapshot_preview1.witx`). */
export const WASI_PREVIEW1_FUNCTIONS: ReadonlySet<string> = new Set([
  'args_get',
  'args_sizes_get',
  'environ_get',
  'environ_sizes_get',
  'clock_res_get',
  'clock_time_get',
  'fd_advise',
  'fd_allocate',
  'fd_close',
  'fd_datasync',
  'fd_fdstat_get',
  'fd_fdstat_set_flags',
  'fd_fdstat_set_rights',
  'fd_filestat_get',
  'fd_filestat_set_size',
  'fd_filestat_set_times',
  'fd_pread',
  'fd_prestat_get',
  'fd_prestat_dir_name',
  'fd_pwrite',
  'fd_read',
  'fd_readdir',
  'fd_renumber',
  'fd_seek',
  'fd_sync',
  'fd_tell',
  'fd_write',
  'path_create_directory',
  'path_filestat_get',
  'path_filestat_set_times',
  'path_link',
  'path_open',
  'path_readlink',
  'path_remove_directory',
  'path_rename',
  'path_symlink',
  'path_unlink_file',
  'poll_oneoff',
  'proc_exit',
  'proc_raise',
  'sched_yield',
  'random_get',
  'sock_accept',
  'sock_recv',
  'sock_send',
  'sock_shutdown',
]);

export interface PreparedModule {
  /** The compiled module with its memory maximum capped at the limit. */
  readonly module: CompiledModule;
  readonly initialPages: number;
  /** The effective maximum: min(declared maximum, limit). */
  readonly maximumPages: number;
  /** What the module itself declared (undefined: no maximum). */
  readonly declaredMaximumPages: number | undefined;
}

interface MemoryLimits {
  /** Offset of the limits (flags byte) inside the module. */
  readonly start: number;
  /** Offset just past the limits. */
  readonly end: number;
  /** Offset of the memory section's id byte. */
  readonly sectionIdOffset: number;
  /** Offset of the section payload (just past its size). */
  readonly sectionStart: number;
  readonly sectionEnd: number;
  readonly initial: number;
  readonly maximum: number | undefined;
}

function invalid(message: string, info?: Record<string, unknown>): never {
  fail('FUNCTION_INVALID_MODULE', message, info);
}

/** Reads an unsigned LEB128 of at most 32 bits (core spec §5.2.2), bounds-checked. */
function readU32(bytes: Uint8Array, offset: number): { value: number; next: number } {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    const b = bytes[offset + i];
    if (b === undefined) invalid('truncated LEB128', { offset });
    if (i === 4 && b > 0x0f) invalid('LEB128 exceeds 32 bits', { offset });
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return { value, next: offset + i + 1 };
  }
  return invalid('LEB128 longer than 5 bytes', { offset });
}

function writeU32(value: number): number[] {
  const out: number[] = [];
  let v = value;
  for (let i = 0; i < 5; i++) {
    const b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v === 0) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
  return out;
}

/** Finds the single memory definition of the module (or none). */
function findMemory(bytes: Uint8Array): MemoryLimits | undefined {
  for (let i = 0; i < HEADER.length; i++) {
    if (bytes[i] !== HEADER[i]) invalid('not a WebAssembly 1.0 binary (bad magic or version)');
  }
  let offset = HEADER.length;
  let found: MemoryLimits | undefined;
  // Bounded: every iteration advances `offset` by at least 2 bytes or throws.
  while (offset < bytes.length) {
    const id = bytes[offset]!;
    const size = readU32(bytes, offset + 1);
    const sectionStart = size.next;
    const sectionEnd = sectionStart + size.value;
    if (sectionEnd > bytes.length) invalid('section runs past the end of the module', { id, offset });
    if (id === MEMORY_SECTION_ID) {
      const count = readU32(bytes, sectionStart);
      if (count.value > 1) invalid('more than one memory (multi-memory) is not supported');
      if (count.value === 1) {
        const start = count.next;
        const flags = bytes[start];
        if (flags !== 0x00 && flags !== 0x01) {
          invalid('only unshared 32-bit memories are supported', { flags });
        }
        const initial = readU32(bytes, start + 1);
        let end = initial.next;
        let maximum: number | undefined;
        if (flags === 0x01) {
          const max = readU32(bytes, initial.next);
          maximum = max.value;
          end = max.next;
        }
        if (end !== sectionEnd) invalid('memory section has trailing bytes');
        found = {
          start,
          end,
          sectionIdOffset: offset,
          sectionStart,
          sectionEnd,
          initial: initial.value,
          maximum,
        };
      }
    }
    offset = sectionEnd;
  }
  return found;
}

/** Returns a copy of the module whose memory maximum is `maximumPages`. */
function withMemoryMaximum(bytes: Uint8Array, mem: MemoryLimits, maximumPages: number): Uint8Array {
  const payload = [
    ...Array.from(bytes.subarray(mem.sectionStart, mem.start)), // the count (1)
    0x01,
    ...writeU32(mem.initial),
    ...writeU32(maximumPages),
  ];
  const head = [MEMORY_SECTION_ID, ...writeU32(payload.length)];
  const idOffset = mem.sectionIdOffset;
  const out = new Uint8Array(idOffset + head.length + payload.length + (bytes.length - mem.sectionEnd));
  out.set(bytes.subarray(0, idOffset), 0);
  out.set(head, idOffset);
  out.set(payload, idOffset + head.length);
  out.set(bytes.subarray(mem.sectionEnd), idOffset + head.length + payload.length);
  return out;
}

/** The memory the module defines, in pages (undefined: it defines none). Bounds-checked, no compile. */
export function readMemoryLimits(
  bytes: Uint8Array,
): { initial: number; maximum: number | undefined } | undefined {
  const mem = findMemory(bytes);
  return mem === undefined ? undefined : { initial: mem.initial, maximum: mem.maximum };
}

/**
 * The module with its memory maximum lowered to `limitPages` (or set, when it declares none); the same
 * bytes when the declared maximum is already within the limit or there is no memory.
 */
export function capMemoryMaximum(bytes: Uint8Array, limitPages: number): Uint8Array {
  const mem = findMemory(bytes);
  if (mem === undefined) return bytes;
  const maximumPages = Math.min(mem.maximum ?? limitPages, limitPages);
  return mem.maximum === maximumPages ? bytes : withMemoryMaximum(bytes, mem, maximumPages);
}

function checkInterface(module: CompiledModule): void {
  for (const imp of wasmApi.Module.imports(module)) {
    if (imp.module !== 'wasi_snapshot_preview1' || imp.kind !== 'function') {
      invalid(`import ${imp.module}.${imp.name} (${imp.kind}) is not a WASI preview 1 function`, {
        module: imp.module,
        name: imp.name,
        kind: imp.kind,
      });
    }
    if (!WASI_PREVIEW1_FUNCTIONS.has(imp.name)) {
      invalid(`unknown WASI preview 1 function ${imp.name}`, { name: imp.name });
    }
  }
  const exports = new Map(wasmApi.Module.exports(module).map((e) => [e.name, e.kind]));
  if (exports.get('_start') !== 'function') invalid('a WASI command must export a _start function');
  if (exports.get('memory') !== 'memory') invalid('a WASI command must export its memory as "memory"');
  if (exports.has('_initialize')) invalid('WASI reactors (_initialize) are not supported; build a command');
}

/**
 * Validates `bytes` as a WASI preview 1 command and compiles it with its memory capped at
 * `limitPages`. A module whose *initial* memory exceeds the limit is refused
 * (`FUNCTION_MEMORY_LIMIT`); a declared maximum above the limit, or none, is lowered to the limit.
 */
export async function prepareModule(bytes: Uint8Array, limitPages: number): Promise<PreparedModule> {
  if (!wasmApi.validate(bytes)) {
    let reason = 'invalid WebAssembly module';
    try {
      await wasmApi.compile(bytes);
    } catch (e) {
      reason = e instanceof Error ? e.message : String(e);
    }
    invalid(reason);
  }
  const mem = findMemory(bytes);
  if (mem === undefined) invalid('the module defines no memory (imported memories are not supported)');
  if (mem.initial > limitPages) {
    fail('FUNCTION_MEMORY_LIMIT', 'the module needs more initial memory than the limit', {
      initialPages: mem.initial,
      limitPages,
    });
  }
  const maximumPages = Math.min(mem.maximum ?? limitPages, limitPages);
  const capped = mem.maximum === maximumPages ? bytes : withMemoryMaximum(bytes, mem, maximumPages);
  let module: CompiledModule;
  try {
    module = await wasmApi.compile(capped);
  } catch (e) {
    return invalid(e instanceof Error ? e.message : String(e));
  }
  checkInterface(module);
  return { module, initialPages: mem.initial, maximumPages, declaredMaximumPages: mem.maximum };
}

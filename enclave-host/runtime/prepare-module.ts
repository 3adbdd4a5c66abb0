import { concatBytes } from '../../attestation/bytes.js';
import { fail } from '../errors.js';
import { type CompiledModule, wasmApi } from './wasm-api.js';

/*
 * Admission of a customer module: it must be a valid WASI preview 1 *command* (exports `_start` and
 * `memory`, imports only `wasi_snapshot_preview1` functions), and everything it can make the engine
 * allocate must fit the runtime's limits (`ModuleLimits`, docs/runtime.md "Resource limits").
 *
 * The growable resources — linear memory and tables — are capped by the engine, not by us: we rewrite
 * the module's memory and table sections so that each declared maximum is within its budget, and
 * `memory.grow` / `table.grow` beyond it then return -1 as the spec says (WebAssembly core spec 2.0,
 * §4.4.7 "memory.grow", §4.4.6 "table.grow"). A module whose *initial* size already exceeds a limit is
 * refused before it is compiled. The fixed-size resources (globals, functions, element and data
 * segments) are counted from the binary and refused above their limits.
 *
 * Why tables matter: V8 allocates a funcref table on the worker's JS heap (≈16 bytes per entry,
 * measured), and with the worker's `resourceLimits` a 57-byte module declaring three tables of 10^7
 * entries, or one calling `table.grow` in a loop, aborted the whole process (V8 fatal OOM), not just
 * its worker; many tables of 10^5 entries reached the heap limit and killed only the worker.
 *
 * Binary format references: WebAssembly core spec 2.0, §5.5.2 (sections: id byte, u32 LEB128 size,
 * payload), §5.5.5 (import section), §5.5.7 (table section: vec(tabletype)), §5.3.9 (tabletype =
 * reftype limits; reftype 0x70 funcref, 0x6F externref), §5.3.7 (limits: 0x00 min | 0x01 min max),
 * §5.5.8 (memory section: vec(memtype)), §5.3.8 (memtype = limits; 0x02/0x03 are the threads
 * proposal's shared memories, 0x04..0x07 memory64), §5.5.9 (globals), §5.5.12 (elements), §5.5.13
 * (code), §5.5.14 (data), §5.4.9 (constant expressions).
 */

export const WASM_PAGE_BYTES = 65536;
const IMPORT_SECTION_ID = 2;
const TABLE_SECTION_ID = 4;
const MEMORY_SECTION_ID = 5;
const GLOBAL_SECTION_ID = 6;
const ELEMENT_SECTION_ID = 9;
const CODE_SECTION_ID = 10;
const DATA_SECTION_ID = 11;
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

/**
 * What a module may declare, besides linear memory (capped by the runtime's `memoryBytes`). Every
 * limit is per module and per instance; one instance runs per worker at a time. The defaults are
 * sized from real toolchain output (docs/runtime.md "Resource limits") with a wide margin, and so
 * that a module at every limit at once still fits the worker's 64 MiB old-generation heap.
 */
export interface ModuleLimits {
  /**
   * Table entries over all tables, counting each table's *maximum* after capping (so `table.grow`
   * can never take the total past it). ≈16 bytes of V8 heap each: 100,000 entries ≈ 1.6 MiB.
   * wasi-libc C/C++ and Rust programs have one funcref table of a few hundred to a few thousand.
   */
  readonly maxTableEntries: number;
  /** Tables (reference-types allows several). Toolchains emit one. */
  readonly maxTables: number;
  /** Defined globals. Toolchains emit a handful (the stack pointer, a few TLS/heap bases). */
  readonly maxGlobals: number;
  /** Defined functions (code section entries). Large C++ programs have tens of thousands. */
  readonly maxFunctions: number;
  /** Element segments. Toolchains emit one (the indirect-call table's initialiser). */
  readonly maxElementSegments: number;
  /** Element entries over all segments (each becomes a table entry or a kept passive segment). */
  readonly maxElementEntries: number;
  /** Data segments. */
  readonly maxDataSegments: number;
  /** Bytes over all data segments (copied into linear memory, or kept for `memory.init`). */
  readonly maxDataBytes: number;
}

export const DEFAULT_MODULE_LIMITS: ModuleLimits = Object.freeze({
  maxTableEntries: 100_000,
  maxTables: 16,
  maxGlobals: 10_000,
  maxFunctions: 200_000,
  maxElementSegments: 10_000,
  maxElementEntries: 100_000,
  maxDataSegments: 100_000,
  maxDataBytes: 16 * 1024 * 1024,
});

export interface PreparedModule {
  /** The compiled module with its memory and table maxima capped. */
  readonly module: CompiledModule;
  readonly initialPages: number;
  /** The effective maximum: min(declared maximum, limit). */
  readonly maximumPages: number;
  /** What the module itself declared (undefined: no maximum). */
  readonly declaredMaximumPages: number | undefined;
  /** Each table, in declaration order, with its effective maximum. */
  readonly tables: readonly (TableLimits & { readonly effectiveMaximum: number })[];
}

export interface TableLimits {
  /** 0x70 funcref, 0x6F externref. */
  readonly refType: number;
  readonly initial: number;
  readonly maximum: number | undefined;
}

interface Section {
  readonly id: number;
  /** Offset of the id byte. */
  readonly idOffset: number;
  /** Offset of the payload (just past its size). */
  readonly start: number;
  readonly end: number;
}

interface MemoryLimits {
  readonly initial: number;
  readonly maximum: number | undefined;
}

/** What the module declares, read from the binary without compiling it. */
interface ModuleShape {
  readonly sections: readonly Section[];
  readonly memory: MemoryLimits | undefined;
  readonly tables: readonly TableLimits[];
  readonly globals: number;
  readonly functions: number;
  readonly elementSegments: number;
  readonly elementEntries: number;
  readonly dataSegments: number;
  readonly dataBytes: number;
}

function invalid(message: string, info?: Record<string, unknown>): never {
  fail('FUNCTION_INVALID_MODULE', message, info);
}

function overLimit(resource: string, declared: number, limit: number): never {
  fail(
    'FUNCTION_RESOURCE_LIMIT',
    `the module declares ${declared} ${resource}, above the limit of ${limit}`,
    {
      resource,
      declared,
      limit,
    },
  );
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

/** Skips a signed LEB128 of at most `maxBytes` bytes (i32: 5, i64: 10), bounds-checked. */
function skipLeb(bytes: Uint8Array, offset: number, maxBytes: number): number {
  for (let i = 0; i < maxBytes; i++) {
    const b = bytes[offset + i];
    if (b === undefined) invalid('truncated LEB128', { offset });
    if ((b & 0x80) === 0) return offset + i + 1;
  }
  return invalid('LEB128 too long', { offset });
}

function byteAt(bytes: Uint8Array, offset: number, end: number): number {
  const b = offset < end ? bytes[offset] : undefined;
  if (b === undefined) invalid('section ends early', { offset });
  return b;
}

/**
 * Skips a constant expression (§5.4.9; plus the extended-const proposal's integer add/sub/mul),
 * up to and including its `end`. Only called after the engine validated the module.
 */
function skipConstExpr(bytes: Uint8Array, offset: number, end: number): number {
  let o = offset;
  // Bounded: every iteration consumes at least one byte or throws.
  for (;;) {
    const op = byteAt(bytes, o, end);
    o++;
    switch (op) {
      case 0x0b: // end
        return o;
      case 0x41: // i32.const
        o = skipLeb(bytes, o, 5);
        break;
      case 0x42: // i64.const
        o = skipLeb(bytes, o, 10);
        break;
      case 0x43: // f32.const
        o += 4;
        break;
      case 0x44: // f64.const
        o += 8;
        break;
      case 0x23: // global.get
      case 0xd2: // ref.func
        o = readU32(bytes, o).next;
        break;
      case 0xd0: // ref.null reftype
        o++;
        break;
      case 0x6a: // i32.add, i32.sub, i32.mul, i64.add, i64.sub, i64.mul (extended-const)
      case 0x6b:
      case 0x6c:
      case 0x7c:
      case 0x7d:
      case 0x7e:
        break;
      default:
        invalid('unsupported instruction in a constant expression', { offset: o - 1, opcode: op });
    }
    if (o > end) invalid('constant expression runs past its section', { offset });
  }
}

/** Reads limits (§5.3.7) at `offset`; `what` names the owner in errors. */
function readLimits(
  bytes: Uint8Array,
  offset: number,
  what: string,
): { initial: number; maximum: number | undefined; next: number } {
  const flags = bytes[offset];
  if (flags !== 0x00 && flags !== 0x01) {
    invalid(
      what === 'memory' ? 'only unshared 32-bit memories are supported' : `unsupported ${what} limits`,
      { flags },
    );
  }
  const initial = readU32(bytes, offset + 1);
  if (flags === 0x00) return { initial: initial.value, maximum: undefined, next: initial.next };
  const max = readU32(bytes, initial.next);
  return { initial: initial.value, maximum: max.value, next: max.next };
}

/** Walks the module's sections and reads what it declares. Bounds-checked, no compile. */
function parseShape(bytes: Uint8Array): ModuleShape {
  for (let i = 0; i < HEADER.length; i++) {
    if (bytes[i] !== HEADER[i]) invalid('not a WebAssembly 1.0 binary (bad magic or version)');
  }
  const sections: Section[] = [];
  let memory: MemoryLimits | undefined;
  const tables: TableLimits[] = [];
  let globals = 0;
  let functions = 0;
  let elementSegments = 0;
  let elementEntries = 0;
  let dataSegments = 0;
  let dataBytes = 0;
  let offset = HEADER.length;
  // Bounded: every iteration advances `offset` by at least 2 bytes or throws.
  while (offset < bytes.length) {
    const id = bytes[offset]!;
    const size = readU32(bytes, offset + 1);
    const start = size.next;
    const end = start + size.value;
    if (end > bytes.length) invalid('section runs past the end of the module', { id, offset });
    sections.push({ id, idOffset: offset, start, end });
    switch (id) {
      case IMPORT_SECTION_ID: {
        // Only function imports are allowed (checkInterface names the offender after compiling); an
        // imported table or memory would escape the caps below, so refuse it here already.
        const count = readU32(bytes, start);
        let o = count.next;
        for (let i = 0; i < count.value; i++) {
          for (let name = 0; name < 2; name++) {
            const len = readU32(bytes, o);
            o = len.next + len.value;
          }
          const kind = byteAt(bytes, o, end);
          if (kind !== 0x00) invalid('only function imports are supported', { importIndex: i, kind });
          o = readU32(bytes, o + 1).next;
        }
        if (o !== end) invalid('import section has trailing bytes');
        break;
      }
      case TABLE_SECTION_ID: {
        const count = readU32(bytes, start);
        let o = count.next;
        for (let i = 0; i < count.value; i++) {
          const refType = byteAt(bytes, o, end);
          if (refType !== 0x70 && refType !== 0x6f) invalid('unsupported table type', { table: i, refType });
          const limits = readLimits(bytes, o + 1, 'table');
          tables.push({ refType, initial: limits.initial, maximum: limits.maximum });
          o = limits.next;
          if (o > end) invalid('table section runs past its end');
        }
        if (o !== end) invalid('table section has trailing bytes');
        break;
      }
      case MEMORY_SECTION_ID: {
        const count = readU32(bytes, start);
        if (count.value > 1) invalid('more than one memory (multi-memory) is not supported');
        if (count.value === 1) {
          const limits = readLimits(bytes, count.next, 'memory');
          if (limits.next !== end) invalid('memory section has trailing bytes');
          memory = { initial: limits.initial, maximum: limits.maximum };
        } else if (count.next !== end) {
          invalid('memory section has trailing bytes');
        }
        break;
      }
      case GLOBAL_SECTION_ID:
        globals = readU32(bytes, start).value;
        break;
      case CODE_SECTION_ID:
        functions = readU32(bytes, start).value;
        break;
      case ELEMENT_SECTION_ID: {
        const count = readU32(bytes, start);
        elementSegments = count.value;
        let o = count.next;
        for (let i = 0; i < count.value; i++) {
          // §5.5.12: the flags select table index (bit 1, when bit 0 is clear), offset expression
          // (bit 0 clear), elemkind/reftype (any but flags 0 and 4), and expressions (bit 2).
          const flags = readU32(bytes, o);
          o = flags.next;
          const f = flags.value;
          if (f > 7) invalid('unknown element segment flags', { segment: i, flags: f });
          const active = (f & 0x01) === 0;
          if (active && (f & 0x02) !== 0) o = readU32(bytes, o).next; // table index
          if (active) o = skipConstExpr(bytes, o, end);
          if (f !== 0 && f !== 4) o++; // elemkind (0x00) or reftype
          const n = readU32(bytes, o);
          o = n.next;
          elementEntries += n.value;
          for (let k = 0; k < n.value; k++) {
            o = (f & 0x04) === 0 ? readU32(bytes, o).next : skipConstExpr(bytes, o, end);
            if (o > end) invalid('element section runs past its end');
          }
        }
        if (o !== end) invalid('element section has trailing bytes');
        break;
      }
      case DATA_SECTION_ID: {
        const count = readU32(bytes, start);
        dataSegments = count.value;
        let o = count.next;
        for (let i = 0; i < count.value; i++) {
          // §5.5.14: 0 = active (memory 0) expr bytes, 1 = passive bytes, 2 = active memidx expr bytes.
          const flags = readU32(bytes, o);
          o = flags.next;
          if (flags.value > 2) invalid('unknown data segment flags', { segment: i, flags: flags.value });
          if (flags.value === 2) o = readU32(bytes, o).next;
          if (flags.value !== 1) o = skipConstExpr(bytes, o, end);
          const len = readU32(bytes, o);
          dataBytes += len.value;
          o = len.next + len.value;
          if (o > end) invalid('data section runs past its end');
        }
        if (o !== end) invalid('data section has trailing bytes');
        break;
      }
    }
    offset = end;
  }
  return {
    sections,
    memory,
    tables,
    globals,
    functions,
    elementSegments,
    elementEntries,
    dataSegments,
    dataBytes,
  };
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

/** Returns a copy of the module with the payloads of some sections replaced (by section id). */
function withSections(
  bytes: Uint8Array,
  sections: readonly Section[],
  payloads: ReadonlyMap<number, readonly number[]>,
): Uint8Array {
  const parts: Uint8Array[] = [bytes.subarray(0, HEADER.length)];
  for (const s of sections) {
    const payload = payloads.get(s.id);
    if (payload === undefined) {
      parts.push(bytes.subarray(s.idOffset, s.end));
    } else {
      parts.push(Uint8Array.from([s.id, ...writeU32(payload.length), ...payload]));
    }
  }
  return concatBytes(...parts);
}

function memoryPayload(initial: number, maximum: number): number[] {
  return [1, 0x01, ...writeU32(initial), ...writeU32(maximum)];
}

function tablePayload(tables: readonly TableLimits[], maxima: readonly number[]): number[] {
  const out = writeU32(tables.length);
  tables.forEach((t, i) => {
    out.push(t.refType, 0x01, ...writeU32(t.initial), ...writeU32(maxima[i]!));
  });
  return out;
}

/**
 * The table maxima that keep the total within `budget`: each table may grow by an equal share of
 * what the initial sizes leave, `floor((budget − Σ initial) / count)`, and never past what it
 * declared. So Σ maxima ≤ Σ initial + count · share ≤ budget. The caller has checked Σ initial ≤ budget.
 */
export function tableMaxima(
  tables: readonly Pick<TableLimits, 'initial' | 'maximum'>[],
  budget: number,
): number[] {
  const total = tables.reduce((n, t) => n + t.initial, 0);
  const share = tables.length === 0 ? 0 : Math.floor((budget - total) / tables.length);
  return tables.map((t) => Math.min(t.maximum ?? Number.POSITIVE_INFINITY, t.initial + share));
}

/** The memory the module defines, in pages (undefined: it defines none). Bounds-checked, no compile. */
export function readMemoryLimits(
  bytes: Uint8Array,
): { initial: number; maximum: number | undefined } | undefined {
  return parseShape(bytes).memory;
}

/** The tables the module defines, in declaration order. Bounds-checked, no compile. */
export function readTableLimits(bytes: Uint8Array): TableLimits[] {
  return [...parseShape(bytes).tables];
}

/**
 * The module with its memory maximum lowered to `limitPages` (or set, when it declares none); the same
 * bytes when the declared maximum is already within the limit or there is no memory.
 */
export function capMemoryMaximum(bytes: Uint8Array, limitPages: number): Uint8Array {
  const shape = parseShape(bytes);
  const mem = shape.memory;
  if (mem === undefined) return bytes;
  const maximumPages = Math.min(mem.maximum ?? limitPages, limitPages);
  if (mem.maximum === maximumPages) return bytes;
  return withSections(
    bytes,
    shape.sections,
    new Map([[MEMORY_SECTION_ID, memoryPayload(mem.initial, maximumPages)]]),
  );
}

/** Refuses a module that declares more than `limits` allow (FUNCTION_RESOURCE_LIMIT). */
function checkShape(shape: ModuleShape, limits: ModuleLimits): void {
  const initialEntries = shape.tables.reduce((n, t) => n + t.initial, 0);
  const counted: [string, number, number][] = [
    ['tables', shape.tables.length, limits.maxTables],
    ['initial table entries', initialEntries, limits.maxTableEntries],
    ['globals', shape.globals, limits.maxGlobals],
    ['functions', shape.functions, limits.maxFunctions],
    ['element segments', shape.elementSegments, limits.maxElementSegments],
    ['element entries', shape.elementEntries, limits.maxElementEntries],
    ['data segments', shape.dataSegments, limits.maxDataSegments],
    ['data bytes', shape.dataBytes, limits.maxDataBytes],
  ];
  for (const [resource, declared, limit] of counted) {
    if (declared > limit) overLimit(resource, declared, limit);
  }
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
 * `limitPages` and its tables within `limits.maxTableEntries`. A module whose *initial* memory exceeds
 * the limit is refused (`FUNCTION_MEMORY_LIMIT`), as is one that declares more of anything else than
 * `limits` allow (`FUNCTION_RESOURCE_LIMIT`, info `{ resource, declared, limit }`); declared maxima
 * above the limits, or none, are lowered to them.
 */
export async function prepareModule(
  bytes: Uint8Array,
  limitPages: number,
  limits: ModuleLimits = DEFAULT_MODULE_LIMITS,
): Promise<PreparedModule> {
  if (!wasmApi.validate(bytes)) {
    let reason = 'invalid WebAssembly module';
    try {
      await wasmApi.compile(bytes);
    } catch (e) {
      reason = e instanceof Error ? e.message : String(e);
    }
    invalid(reason);
  }
  const shape = parseShape(bytes);
  const mem = shape.memory;
  if (mem === undefined) invalid('the module defines no memory (imported memories are not supported)');
  if (mem.initial > limitPages) {
    fail('FUNCTION_MEMORY_LIMIT', 'the module needs more initial memory than the limit', {
      initialPages: mem.initial,
      limitPages,
    });
  }
  checkShape(shape, limits);
  const payloads = new Map<number, number[]>();
  const maximumPages = Math.min(mem.maximum ?? limitPages, limitPages);
  if (mem.maximum !== maximumPages) payloads.set(MEMORY_SECTION_ID, memoryPayload(mem.initial, maximumPages));
  const maxima = tableMaxima(shape.tables, limits.maxTableEntries);
  if (shape.tables.some((t, i) => t.maximum !== maxima[i])) {
    payloads.set(TABLE_SECTION_ID, tablePayload(shape.tables, maxima));
  }
  const capped = payloads.size === 0 ? bytes : withSections(bytes, shape.sections, payloads);
  let module: CompiledModule;
  try {
    module = await wasmApi.compile(capped);
  } catch (e) {
    return invalid(e instanceof Error ? e.message : String(e));
  }
  checkInterface(module);
  return {
    module,
    initialPages: mem.initial,
    maximumPages,
    declaredMaximumPages: mem.maximum,
    tables: shape.tables.map((t, i) => ({ ...t, effectiveMaximum: maxima[i]! })),
  };
}

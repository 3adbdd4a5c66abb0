import { setFlagsFromString } from 'node:v8';

/*
 * The part of the WebAssembly JavaScript API (a global in Node) that the runtime uses, typed here
 * because the project's `lib` is ES2023 without DOM, where TypeScript keeps these declarations.
 */

declare const compiledModule: unique symbol;
/** A compiled `WebAssembly.Module`: opaque, structured-cloneable to workers. */
export interface CompiledModule {
  readonly [compiledModule]?: never;
}

export interface ModuleImportDescriptor {
  readonly module: string;
  readonly name: string;
  readonly kind: string;
}

export interface ModuleExportDescriptor {
  readonly name: string;
  readonly kind: string;
}

interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<CompiledModule>;
  readonly Module: {
    imports(module: CompiledModule): ModuleImportDescriptor[];
    exports(module: CompiledModule): ModuleExportDescriptor[];
  };
}

export const wasmApi: WasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/**
 * V8 compiles WebAssembly lazily by default: each function when it is first called, so the first
 * invocation of a large module pays for compiling the code it runs. The runtime compiles at deploy,
 * so it turns that off (`false`): `compile` then produces baseline (Liftoff) code for every function,
 * and hot functions still tier up to optimised code as they run. A process-wide V8 flag; it applies
 * to modules compiled after the call (docs/runtime.md, "Cold start").
 */
export function setLazyCompilation(lazy: boolean): void {
  setFlagsFromString(lazy ? '--wasm-lazy-compilation' : '--no-wasm-lazy-compilation');
}

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

/*
 * Compiles contracts/src with the npm `solc` package (no compiler download), writes each contract's ABI
 * and creation bytecode to contracts/artifacts/<Name>.json (their one stored copy), typed ethers v6
 * bindings that import them to contracts/bindings/<name>.ts, and the Solidity enums, read from the
 * compiler's AST, to contracts/bindings/enums.ts.
 *   npx tsx contracts/build.ts          # rebuild (and remove generated files that are no longer produced)
 *   npx tsx contracts/build.ts --check  # exit 1 when a committed artifact or binding is stale or extra
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';
import {
  type AbiParam,
  enumName,
  renderArtifact,
  renderBinding,
  renderEnums,
  renderIndex,
  type SolidityEnum,
} from './codegen.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const srcDir = join(here, 'src');
const artifactsDir = join(here, 'artifacts');
const bindingsDir = join(here, 'bindings');

/** The deployable contracts; interfaces and test helpers are compiled but not exported. */
export const CONTRACTS = [
  'Token',
  'Registry',
  'Market',
  'Settlement',
  'WitnessPool',
  'AttestationLog',
] as const;

/**
 * Compiler settings shared with foundry.toml (optimizer 200 runs, prague). The AST (`''`: per source)
 * is where the enums are read from.
 */
export const SOLC_SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'prague',
  metadata: { bytecodeHash: 'none' },
  outputSelection: { '*': { '': ['ast'], '*': ['abi', 'evm.bytecode.object'] } },
} as const;

/** The parts of a solc AST node that the enum walk reads (solc "compact" AST). */
interface AstNode {
  nodeType: string;
  name?: string;
  canonicalName?: string;
  members?: { name: string }[];
  documentation?: { text: string } | null;
  nodes?: AstNode[];
}

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  sources: Record<string, { ast: AstNode }>;
  contracts: Record<string, Record<string, { abi: AbiEntry[]; evm: { bytecode: { object: string } } }>>;
}

export interface Compiled {
  contracts: Map<string, { abi: AbiEntry[]; bytecode: string }>;
  /** The enums declared in contracts/src (not those of imported libraries), in source order. */
  enums: SolidityEnum[];
}

export interface AbiEntry {
  type: string;
  name?: string;
  inputs?: AbiParam[];
  outputs?: AbiParam[];
  stateMutability?: string;
  anonymous?: boolean;
}

function listSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((d) =>
      d.isDirectory() ? listSources(join(dir, d.name)) : d.name.endsWith('.sol') ? [join(dir, d.name)] : [],
    );
}

function findImport(path: string): { contents: string } | { error: string } {
  for (const base of [here, join(root, 'node_modules')]) {
    const p = join(base, path);
    if (existsSync(p)) return { contents: readFileSync(p, 'utf8') };
  }
  return { error: `not found: ${path}` };
}

export function compile(): Compiled {
  const sources: Record<string, { content: string }> = {};
  for (const f of listSources(srcDir)) sources[relative(here, f)] = { content: readFileSync(f, 'utf8') };
  const input = { language: 'Solidity', sources, settings: SOLC_SETTINGS };
  const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport })) as SolcOutput;
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const contracts = new Map<string, { abi: AbiEntry[]; bytecode: string }>();
  for (const name of CONTRACTS) {
    const c = out.contracts[`src/${name}.sol`]?.[name];
    if (!c) throw new Error(`solc produced no ${name}`);
    contracts.set(name, { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` });
  }
  const enums = Object.keys(sources).flatMap((source) => {
    const ast = out.sources[source]?.ast;
    if (!ast) throw new Error(`solc produced no AST for ${source}`);
    return enumsOf(ast, source);
  });
  const names = enums.map((e) => enumName(e.canonicalName));
  const clash = names.find((n, i) => names.indexOf(n) !== i);
  if (clash) throw new Error(`two Solidity enums would both be named ${clash} in TypeScript`);
  return { contracts, enums };
}

/** Enums are declared at file level or inside a contract, interface or library: two levels deep at most. */
function enumsOf(node: AstNode, source: string): SolidityEnum[] {
  return (node.nodes ?? []).flatMap((n): SolidityEnum[] => {
    if (n.nodeType === 'ContractDefinition') return enumsOf(n, source);
    if (n.nodeType !== 'EnumDefinition') return [];
    const e: SolidityEnum = {
      canonicalName: n.canonicalName ?? n.name!,
      source,
      members: (n.members ?? []).map((m) => m.name),
    };
    if (n.documentation?.text) e.doc = n.documentation.text;
    return [e];
  });
}

function outputs(): Map<string, string> {
  const files = new Map<string, string>();
  const { contracts, enums } = compile();
  for (const [name, c] of contracts) {
    files.set(join(artifactsDir, `${name}.json`), renderArtifact(c.abi, c.bytecode));
    const binding = join(bindingsDir, `${kebab(name)}.ts`);
    files.set(binding, biomeFormat(binding, renderBinding(name, c.abi, enums)));
  }
  const enumsFile = join(bindingsDir, 'enums.ts');
  files.set(enumsFile, biomeFormat(enumsFile, renderEnums(enums)));
  const index = join(bindingsDir, 'index.ts');
  files.set(index, biomeFormat(index, renderIndex(CONTRACTS.map((n) => ({ name: n, file: kebab(n) })))));
  return files;
}

/**
 * Files in the output folders that the build wrote once but no longer produces: every artifact, and
 * every binding that starts with the generated header (bindings/commitments.ts is written by hand).
 */
function extraOutputs(files: ReadonlyMap<string, string>): string[] {
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  const artifacts = list(artifactsDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => join(artifactsDir, f));
  const bindings = list(bindingsDir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(bindingsDir, f))
    .filter((f) => readFileSync(f, 'utf8').startsWith('// Generated by contracts/build.ts'));
  return [...artifacts, ...bindings].filter((f) => !files.has(f));
}

/** Formats generated TypeScript exactly as `biome format` would, so lint and --check agree. */
function biomeFormat(path: string, source: string): string {
  const biome = join(root, 'bin', 'biome.mjs');
  return execFileSync(
    process.execPath,
    [biome, 'check', '--write', `--stdin-file-path=${relative(root, path)}`],
    {
      input: source,
      encoding: 'utf8',
    },
  );
}

export function kebab(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
}

/**
 * Compiles and lists the committed artifacts and bindings that differ from a fresh build, are missing,
 * or are generated files the build no longer produces.
 */
export function staleOutputs(): { stale: string[]; total: number } {
  const files = outputs();
  const stale = [...files]
    .filter(([path, content]) => !existsSync(path) || readFileSync(path, 'utf8') !== content)
    .map(([path]) => path);
  return { stale: [...stale, ...extraOutputs(files)].map((p) => relative(root, p)), total: files.size };
}

function main(): number {
  const check = process.argv.includes('--check');
  if (check) {
    const { stale, total } = staleOutputs();
    if (stale.length > 0) {
      console.error(`stale contract outputs (run npm run build:contracts):\n  ${stale.join('\n  ')}`);
      return 1;
    }
    console.log(`contracts: ${total} artifacts and bindings up to date`);
    return 0;
  }
  const files = outputs();
  for (const [path, content] of files) {
    const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (current === content) continue;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    console.log(`wrote ${relative(root, path)}`);
  }
  for (const path of extraOutputs(files)) {
    rmSync(path);
    console.log(`removed ${relative(root, path)}`);
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main();

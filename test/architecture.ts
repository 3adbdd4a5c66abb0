import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/*
 * The import directions of ARCHITECTURE.md ("Layout"), as data. A file in folder F may import our
 * code only from F itself and from ALLOWED[F]. Tests beside the code (*.test.ts) may also use the
 * shared fixtures in test/ and the example functions in examples/.
 */
export const TOP_FOLDERS = [
  'proto',
  'attestation',
  'protocol',
  'enclave-host',
  'sdk',
  'verifier',
  'contracts',
  'cli',
  'test',
  'docs',
  'bench',
  'experiments',
  'examples',
] as const;
export type Folder = (typeof TOP_FOLDERS)[number];

const EVERYTHING = TOP_FOLDERS.map((f) => f as string);
/** "chain bindings": the typed contract bindings, not the rest of contracts/. */
const CHAIN_BINDINGS = 'contracts/bindings';

export const ALLOWED: Readonly<Record<Folder, readonly string[]>> = {
  proto: [],
  attestation: [],
  protocol: ['attestation', 'proto'],
  'enclave-host': ['attestation', 'proto', 'protocol'],
  sdk: ['attestation', 'proto', 'protocol', CHAIN_BINDINGS],
  verifier: ['attestation', 'proto', 'protocol', CHAIN_BINDINGS],
  contracts: [],
  cli: EVERYTHING,
  test: EVERYTHING,
  bench: EVERYTHING,
  experiments: EVERYTHING,
  docs: [],
  examples: [],
};

const TEST_EXTRAS = ['test', 'examples'];

export interface Violation {
  readonly file: string;
  readonly specifier: string;
  readonly target: string;
}

const IMPORT_RE = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g;

export function importsOf(source: string): string[] {
  return [...source.matchAll(IMPORT_RE)].map((m) => m[1]!);
}

/** Checks one file's relative imports; `file` and the result paths are relative to `root`, with '/' separators. */
export function checkFile(root: string, file: string, source: string): Violation[] {
  const folder = file.split('/')[0] as Folder;
  if (!TOP_FOLDERS.includes(folder)) return [];
  const allowed = [folder, ...ALLOWED[folder], ...(file.endsWith('.test.ts') ? TEST_EXTRAS : [])];
  const out: Violation[] = [];
  for (const spec of importsOf(source)) {
    if (!spec.startsWith('.')) continue;
    const target = relative(root, resolve(root, dirname(file), spec))
      .split(sep)
      .join('/');
    if (target.startsWith('..')) {
      out.push({ file, specifier: spec, target });
      continue;
    }
    if (!allowed.some((a) => target === a || target.startsWith(`${a}/`)))
      out.push({ file, specifier: spec, target });
  }
  return out;
}

export function listSources(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mts|mjs|js)$/.test(name)) out.push(relative(root, p).split(sep).join('/'));
    }
  };
  for (const f of TOP_FOLDERS) {
    try {
      walk(join(root, f));
    } catch {
      // folder not present yet
    }
  }
  return out;
}

/** This checker's own test holds example import lines as strings; it is the one file not scanned. */
const SELF_TEST = 'test/architecture.test.ts';

export function checkTree(root: string): Violation[] {
  return listSources(root)
    .filter((f) => f !== SELF_TEST)
    .flatMap((f) => checkFile(root, f, readFileSync(join(root, f), 'utf8')));
}

/*
 * Renders typed ethers v6 bindings from an ABI: a typed contract interface (argument and return types
 * mapped from Solidity types, enums to the generated enum types), a deploy function and a connect
 * function; the ABI and bytecode are imported from contracts/artifacts/<Name>.json. Also renders the
 * artifact itself and the Solidity enums as constants. A small, dependency-free stand-in for
 * TypeChain's ethers-v6 target.
 */

export interface AbiParam {
  name: string;
  type: string;
  internalType?: string;
  components?: AbiParam[];
  indexed?: boolean;
}

interface AbiItem {
  type: string;
  name?: string;
  inputs?: AbiParam[];
  outputs?: AbiParam[];
  stateMutability?: string;
}

/** A Solidity enum from the compiler's AST (`EnumDefinition`). */
export interface SolidityEnum {
  /** As solc names it, e.g. `IMarket.State`; ABI `internalType`s say `enum IMarket.State`. */
  canonicalName: string;
  /** The source file, relative to contracts/. */
  source: string;
  members: string[];
  /** NatSpec of the definition, if any. */
  doc?: string;
}

/** The enum types a binding refers to, by canonical name. */
type EnumNames = ReadonlyMap<string, string>;

/**
 * The TypeScript name of a Solidity enum: the owning contract or interface (without the `I` of an
 * interface) followed by the enum's name, e.g. `IMarket.State` -> `MarketState`, so that short names
 * such as `State` or `Verdict` do not clash with each other or with other `TeeType`s of the project.
 */
export function enumName(canonicalName: string): string {
  const parts = canonicalName.split('.');
  if (parts.length === 1) return parts[0]!;
  return `${parts[0]!.replace(/^I(?=[A-Z])/, '')}${parts[1]!}`;
}

function enumOf(p: AbiParam, enums: EnumNames): string | undefined {
  const m = /^enum ([\w.]+)/.exec(p.internalType ?? '');
  return m ? enums.get(m[1]!) : undefined;
}

function baseType(p: AbiParam, dir: 'in' | 'out', enums: EnumNames): string {
  const t = p.type;
  const arr = /^(.*)\[(\d*)\]$/.exec(t);
  if (arr) return `${baseType({ ...p, type: arr[1]! }, dir, enums)}[]`;
  if (t === 'tuple') {
    const fields = (p.components ?? []).map((c) => `${c.name}: ${baseType(c, dir, enums)}`).join('; ');
    return `{ ${fields} }`;
  }
  const e = enumOf(p, enums);
  if (e) return e;
  if (/^u?int\d*$/.test(t)) return dir === 'in' ? 'BigNumberish' : 'bigint';
  if (t === 'address') return dir === 'in' ? 'AddressLike' : 'string';
  if (t === 'bool') return 'boolean';
  if (t === 'string') return 'string';
  if (/^bytes\d*$/.test(t)) return dir === 'in' ? 'BytesLike' : 'string';
  throw new Error(`unsupported ABI type ${t}`);
}

function argName(p: AbiParam, i: number): string {
  const n = p.name.replace(/_$/, '') || `arg${i}`;
  return /^(function|default|delete|new|class|in|for|var|let|const|enum)$/.test(n) ? `${n}_` : n;
}

function returnType(outputs: AbiParam[], enums: EnumNames): string {
  if (outputs.length === 0) return 'void';
  if (outputs.length === 1) return baseType(outputs[0]!, 'out', enums);
  return `[${outputs.map((o, i) => `${argName(o, i)}: ${baseType(o, 'out', enums)}`).join(', ')}]`;
}

export function pascal(name: string): string {
  return name[0]!.toUpperCase() + name.slice(1);
}

export function camel(name: string): string {
  return name[0]!.toLowerCase() + name.slice(1);
}

export function renderBinding(name: string, abi: readonly AbiItem[], enums: readonly SolidityEnum[]): string {
  const enumNames: EnumNames = new Map(enums.map((e) => [e.canonicalName, enumName(e.canonicalName)]));
  const fns = abi.filter((a) => a.type === 'function');
  const events = abi.filter((a) => a.type === 'event').map((e) => e.name!);
  const errors = abi.filter((a) => a.type === 'error').map((e) => e.name!);
  const ctor = abi.find((a) => a.type === 'constructor');
  const methods = fns.map((f) => {
    const args = (f.inputs ?? [])
      .map((p, i) => `${argName(p, i)}: ${baseType(p, 'in', enumNames)}`)
      .join(', ');
    const ret = returnType(f.outputs ?? [], enumNames);
    const constant = f.stateMutability === 'view' || f.stateMutability === 'pure';
    const d = constant ? ret : 'ContractTransactionResponse';
    return `  ${f.name}: ContractMethod<[${args}], ${ret}, ${d}>;`;
  });
  const ctorArgs = (ctor?.inputs ?? []).map((p, i) => `${argName(p, i)}: ${baseType(p, 'in', enumNames)}`);
  const c = camel(name);
  const used = [...methods, ...ctorArgs].join('\n');
  const typeImports = ['AddressLike', 'BigNumberish', 'BytesLike'].filter((t) => used.includes(t));
  const usedEnums = [...enumNames.values()].filter((e) => new RegExp(`\\b${e}\\b`).test(used));
  const imports = [
    ...typeImports.map((t) => `type ${t}`),
    'BaseContract',
    'ContractFactory',
    'type ContractMethod',
    'type ContractRunner',
    'type ContractTransactionResponse',
    'type Signer',
  ];
  // Relative to contracts/bindings/, where the binding is written.
  const artifact = `../artifacts/${name}.json`;
  const lines = [
    '// Generated by contracts/build.ts from the solc output. Do not edit.',
    `import { ${imports.join(', ')} } from 'ethers';`,
    `import artifact from '${artifact}' with { type: 'json' };`,
    ...(usedEnums.length ? [`import type { ${usedEnums.join(', ')} } from './enums.js';`] : []),
    '',
    `/** The ABI and creation bytecode, stored once in contracts/artifacts/${name}.json. */`,
    `export const ${c}Abi = artifact.abi;`,
    `export const ${c}Bytecode = artifact.bytecode;`,
    '',
    `export type ${name}EventName = ${events.length ? events.map((e) => `'${e}'`).join(' | ') : 'never'};`,
    `export type ${name}ErrorName = ${errors.length ? errors.map((e) => `'${e}'`).join(' | ') : 'never'};`,
    '',
    `export interface ${name}Contract extends BaseContract {`,
    `  connect(runner: ContractRunner | null): ${name}Contract;`,
    ...methods,
    '}',
    '',
    `/** Deploys ${name} and waits until it is mined. */`,
    `export async function deploy${name}(signer: Signer${ctorArgs.length ? `, ${ctorArgs.join(', ')}` : ''}): Promise<${name}Contract> {`,
    `  const factory = new ContractFactory(${c}Abi, ${c}Bytecode, signer);`,
    `  const contract = await factory.deploy(${(ctor?.inputs ?? []).map((p, i) => argName(p, i)).join(', ')});`,
    '  await contract.waitForDeployment();',
    `  return contract as unknown as ${name}Contract;`,
    '}',
    '',
    `/** A typed handle on a deployed ${name}. */`,
    `export function connect${name}(address: string, runner: ContractRunner | null): ${name}Contract {`,
    `  return new BaseContract(address, ${c}Abi, runner) as unknown as ${name}Contract;`,
    '}',
    '',
  ];
  return lines.join('\n');
}

/**
 * The artifact of one contract: the ABI exactly as solc emits it, one entry per line, and the creation
 * bytecode. The bindings import it; nothing else is stored.
 */
export function renderArtifact(abi: readonly AbiItem[], bytecode: string): string {
  const entries = abi.map((e) => `    ${JSON.stringify(e)}`).join(',\n');
  return `{\n  "abi": [\n${entries}\n  ],\n  "bytecode": ${JSON.stringify(bytecode)}\n}\n`;
}

/**
 * Every Solidity enum as a constant and a type of the same name. The ABI encodes an enum as uint8 and
 * ethers decodes uint8 to bigint, so the values are bigints and compare with `===` to what a call returns.
 */
export function renderEnums(enums: readonly SolidityEnum[]): string {
  const lines = ['// Generated by contracts/build.ts from the solc AST. Do not edit.'];
  for (const e of enums) {
    const n = enumName(e.canonicalName);
    lines.push('');
    const doc = e.doc ? `: ${e.doc.replace(/@(notice|dev)\s+/g, '')}` : '.';
    const text = `\`${e.canonicalName}\` (contracts/${e.source})${doc}`;
    if (text.length + 7 <= 100) lines.push(`/** ${text} */`);
    else lines.push('/**', ...wrap(text, 100, ' * '), ' */');
    lines.push(`export const ${n} = { ${e.members.map((m, i) => `${m}: ${i}n`).join(', ')} } as const;`);
    lines.push(`export type ${n} = (typeof ${n})[keyof typeof ${n}];`);
  }
  lines.push('');
  return lines.join('\n');
}

/** Splits text into lines of at most `width` characters (a longer word gets a line of its own). */
function wrap(text: string, width: number, prefix: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && prefix.length + line.length + 1 + word.length > width) {
      lines.push(prefix + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(prefix + line);
  return lines;
}

export function renderIndex(contracts: { name: string; file: string }[]): string {
  const lines = ['// Generated by contracts/build.ts. Do not edit.'];
  for (const { file } of contracts) lines.push(`export * from './${file}.js';`);
  lines.push("export * from './commitments.js';");
  lines.push("export * from './enums.js';");
  lines.push('');
  lines.push("import { Interface } from 'ethers';");
  for (const { name, file } of contracts) lines.push(`import { ${camel(name)}Abi } from './${file}.js';`);
  lines.push('');
  lines.push(
    '/** Every error of every contract: decodes reverts that bubble up through calls between contracts. */',
  );
  lines.push(
    `export const defaasErrors = new Interface([${contracts.map((c) => `...${camel(c.name)}Abi`).join(', ')}].filter((f) => f.type === 'error'));`,
  );
  lines.push('');
  return lines.join('\n');
}

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileAsExample } from '../../examples/as/compile-as.js';
import { FunctionRuntime, type RuntimeLimits } from './function-runtime.js';
import { runInWorker } from './worker-harness.js';

/*
 * Real programs on the runtime's WASI layer: a C program built with clang and wasi-libc (stdio,
 * getenv, malloc; the binary is checked in, clang is not needed to run this) and an AssemblyScript
 * program that reads process.env (compiled here with the `assemblyscript` devDependency).
 */

const LIMITS: RuntimeLimits = {
  memoryBytes: 16 * 1024 * 1024,
  wallTimeMs: 5000,
  maxInputBytes: 1024 * 1024,
  maxOutputBytes: 64 * 1024,
};

const WORDFREQ_C = fileURLToPath(new URL('../../examples/c/wordfreq.c', import.meta.url));
const WORDFREQ_WASM = fileURLToPath(new URL('../../examples/c/wordfreq.wasm', import.meta.url));
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The reference for examples/c/wordfreq.c, written from its specification (the comment at its top). */
function wordfreq(text: string, top = 10): string {
  const counts = new Map<string, number>();
  let total = 0;
  for (const [word] of text.matchAll(/[A-Za-z]+/g)) {
    const w = word.toLowerCase();
    counts.set(w, (counts.get(w) ?? 0) + 1);
    total++;
  }
  const sorted = [...counts].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
  const lines = [
    `words ${total}`,
    `distinct ${counts.size}`,
    ...sorted.slice(0, top).map(([w, n]) => `${n} ${w}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Deterministic text: words from a small vocabulary plus rare ones, mixed case and punctuation. */
function corpus(words: number, seed: number): string {
  const vocab = ['the', 'of', 'And', 'enclave', 'WASM', 'function', 'lease', 'quote', 'a', 'to'];
  let s = seed;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s >>> 8;
  };
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    const r = next();
    const word =
      r % 4 === 0
        ? Array.from({ length: 3 + (r % 7) }, () => String.fromCharCode(97 + (next() % 26))).join('')
        : vocab[r % vocab.length]!;
    out.push(word, [' ', '  ', ', ', '.\n', '\t', ' — ', '42'][next() % 7]!);
  }
  return out.join('');
}

describe('real WASI programs', () => {
  let rt: FunctionRuntime;
  let wordfreqId: string;

  beforeAll(async () => {
    rt = new FunctionRuntime({ workers: 2, limits: LIMITS });
    wordfreqId = await rt.register(readFileSync(WORDFREQ_WASM));
  });
  afterAll(async () => {
    await rt?.close();
  });

  it('C (wasi-libc): wordfreq matches the reference on small and large inputs', async () => {
    const inputs = [
      '',
      'one',
      'The the THE cat. A cat, a hat!',
      'zebra apple mango apple zebra kiwi kiwi kiwi banana banana',
      corpus(2_000, 1),
      corpus(60_000, 7), // thousands of distinct words: the hash table and malloc grow
    ];
    for (const text of inputs) {
      const r = await rt.invoke(wordfreqId, enc.encode(text));
      expect(dec.decode(r.output)).toBe(wordfreq(text));
    }
    expect(wordfreq('The the THE cat. A cat, a hat!')).toBe(
      'words 8\ndistinct 4\n3 the\n2 a\n2 cat\n1 hat\n',
    );
  });

  it('C (wasi-libc): the fprintf diagnostic arrives on stderr, getenv sees no variable', async () => {
    const text = 'to be or not to be';
    const r = await runInWorker(readFileSync(WORDFREQ_WASM), { input: enc.encode(text) });
    expect(r).toMatchObject({ status: 'exit', exitCode: 0 });
    expect(dec.decode(r.output)).toBe(wordfreq(text));
    expect(dec.decode(r.stderr)).toBe(
      'wordfreq: 18 bytes, 6 words, 4 distinct, top 10 (WORDFREQ_TOP unset)\n',
    );
  });

  const hasClang = (() => {
    try {
      execFileSync('clang', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  it.skipIf(!hasClang)('C: the checked-in wordfreq.wasm is what the documented command builds', () => {
    const dir = mkdtempSync(join(tmpdir(), 'defaas-wordfreq-'));
    try {
      const wasm = join(dir, 'wordfreq.wasm');
      // PATH as in the documented command: clang -O2 runs any wasm-opt on PATH (binaryen's, from
      // node_modules/.bin under vitest), which changes the bytes.
      execFileSync('clang', ['--target=wasm32-wasi', '-O2', '-Wl,--strip-all', '-o', wasm, WORDFREQ_C], {
        env: { ...process.env, PATH: '/usr/bin:/bin' },
      });
      expect(readFileSync(wasm).equals(readFileSync(WORDFREQ_WASM))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('AssemblyScript (wasi-shim): process.env and process.argv work with an empty environment', async () => {
    // Under node:wasi this program aborted (exit 255): its environ_get returned EINVAL.
    const id = await rt.register(await compileAsExample('envinfo'));
    const input = 'line one\nline two\nthree\n';
    const r = await rt.invoke(id, enc.encode(input));
    expect(dec.decode(r.output)).toBe(`argv 1 function\nenv 0\nHOME unset\nbytes ${input.length}\nlines 3\n`);
  });
});

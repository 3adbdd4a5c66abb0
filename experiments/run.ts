import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spliceSection } from '../bench/splice.js';
import { experimentLb } from './lb.js';
import { experimentParallelism } from './parallelism.js';
import type { Experiment } from './section.js';
import { experimentWitness } from './witness.js';

/*
 * `npm run experiments [-- <section>…]`: runs the named experiment sections (all when none is
 * named), writes each one's raw results to experiments/results/<section>.json, its plots to
 * docs/experiments/ and replaces its part of docs/experiments.md, between
 * `<!-- experiments:<section> -->` and `<!-- /experiments:<section> -->`; the rest of the file is
 * kept. To add a section: export an `Experiment` from experiments/x.ts and list it below.
 */

export const SECTIONS: Readonly<Record<string, Experiment>> = {
  witness: experimentWitness,
  lb: experimentLb,
  parallelism: experimentParallelism,
};

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = join(repoRoot, 'experiments', 'results');
const PLOTS_DIR = join(repoRoot, 'docs', 'experiments');
const DOC = join(repoRoot, 'docs', 'experiments.md');
const DOC_HEAD =
  '# Experiments\n\nRun all sections with `npm run experiments`, or one with `npm run experiments -- <section>`; see `experiments/README.md`.\n';

export type Parsed =
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'run'; readonly names: readonly string[] }
  | { readonly kind: 'error'; readonly text: string };

export function parseArgs(argv: readonly string[], known: readonly string[]): Parsed {
  const args = argv.filter((a) => a !== '--');
  const list = `sections: ${known.join(', ')}`;
  if (args.includes('--help') || args.includes('-h'))
    return { kind: 'help', text: `usage: npm run experiments [-- <section>…]\n${list}` };
  const unknown = args.filter((a) => !known.includes(a));
  if (unknown.length > 0)
    return { kind: 'error', text: `unknown experiment section(s): ${unknown.join(', ')}; ${list}` };
  return { kind: 'run', names: args.length > 0 ? args : known };
}

async function main(): Promise<void> {
  const parsed = parseArgs(process.argv.slice(2), Object.keys(SECTIONS));
  if (parsed.kind === 'help') {
    console.log(parsed.text);
    return;
  }
  if (parsed.kind === 'error') {
    console.error(parsed.text);
    process.exit(2);
  }
  for (const name of parsed.names) {
    const t0 = performance.now();
    const section = await SECTIONS[name]!((line) => console.log(`[${name}] ${line}`));
    mkdirSync(RESULTS_DIR, { recursive: true });
    mkdirSync(PLOTS_DIR, { recursive: true });
    const resultsFile = join(RESULTS_DIR, `${section.name}.json`);
    writeFileSync(resultsFile, `${JSON.stringify(section.results, null, 2)}\n`);
    for (const [file, svg] of Object.entries(section.plots)) writeFileSync(join(PLOTS_DIR, file), svg);
    const doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : DOC_HEAD;
    writeFileSync(DOC, spliceSection(doc, section.name, section.markdown, 'experiments'));
    console.log(
      `\n${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s; wrote ${resultsFile}, ${Object.keys(section.plots).length} plots and docs/experiments.md`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();

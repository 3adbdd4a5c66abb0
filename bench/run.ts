import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAttestation } from './attestation.js';
import { benchLogSection } from './log.js';
import { benchRuntime } from './runtime.js';
import type { Section } from './section.js';
import { benchSession } from './session.js';
import { spliceSection } from './splice.js';
import { benchWitness } from './witness.js';

/*
 * `npm run bench [-- <section>…]`: runs the named benchmark sections (all when none is named), writes
 * each one's results to bench/results/<section>.json and replaces its part of docs/benchmarks.md,
 * between `<!-- bench:<section> -->` and `<!-- /bench:<section> -->`; the rest of the file is kept.
 * To add a section: export `async function benchX(): Promise<Section>` from bench/x.ts and list it below.
 */

const SECTIONS: Readonly<Record<string, () => Promise<Section>>> = {
  attestation: benchAttestation,
  session: benchSession,
  runtime: benchRuntime,
  witness: benchWitness,
  log: benchLogSection,
};

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = join(repoRoot, 'bench', 'results');
const DOC = join(repoRoot, 'docs', 'benchmarks.md');

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => a !== '--');
  const unknown = args.filter((a) => !(a in SECTIONS));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark section(s): ${unknown.join(', ')}; known: ${Object.keys(SECTIONS).join(', ')}`,
    );
    process.exit(2);
  }
  const names = args.length > 0 ? args : Object.keys(SECTIONS);
  for (const name of names) {
    const t0 = performance.now();
    const section = await SECTIONS[name]!();
    mkdirSync(RESULTS_DIR, { recursive: true });
    const resultsFile = join(RESULTS_DIR, `${section.name}.json`);
    writeFileSync(resultsFile, `${JSON.stringify(section.results, null, 2)}\n`);
    const doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Benchmarks\n\nRun with `npm run bench`.\n';
    writeFileSync(DOC, spliceSection(doc, section.name, section.markdown));
    console.log(
      `\n${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s; wrote ${resultsFile} and docs/benchmarks.md`,
    );
  }
}

await main();

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * `doc` with the section's marked part replaced, or the marked part appended when it is not there yet.
 * The markers are `<!-- <tag>:<name> -->` and `<!-- /<tag>:<name> -->`; `tag` is `bench` for
 * docs/benchmarks.md and `experiments` for docs/experiments.md. Kept apart from bench/run.ts so it
 * can be imported without running the benchmarks.
 */
export function spliceSection(doc: string, name: string, markdown: string, tag = 'bench'): string {
  const open = `<!-- ${tag}:${name} -->`;
  const close = `<!-- /${tag}:${name} -->`;
  const block = `${open}\n${markdown.trim()}\n${close}`;
  const re = new RegExp(`${escapeRe(open)}[\\s\\S]*?${escapeRe(close)}`);
  if (re.test(doc)) return doc.replace(re, () => block);
  return `${doc.trimEnd()}\n\n${block}\n`;
}

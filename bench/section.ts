/** What one benchmark section hands to `bench/run.ts`. */
export interface Section {
  /** Short name: the CLI argument, `bench/results/<name>.json` and the `<!-- bench:<name> -->` markers. */
  readonly name: string;
  /** Machine-readable results, written as JSON. */
  readonly results: unknown;
  /** Markdown placed between the section's markers in docs/benchmarks.md (no markers inside). */
  readonly markdown: string;
}

/** What one experiment section hands to `experiments/run.ts`. */
export interface ExperimentSection {
  /** Short name: the CLI argument, `experiments/results/<name>.json` and the doc's markers. */
  readonly name: string;
  /** Machine-readable results, written as JSON. */
  readonly results: unknown;
  /** Markdown placed between `<!-- experiments:<name> -->` markers in docs/experiments.md. */
  readonly markdown: string;
  /** SVG plots by file name, written to docs/experiments/. */
  readonly plots: Readonly<Record<string, string>>;
}

/** A section: runs and reports progress through `log`. */
export type Experiment = (log: (line: string) => void) => Promise<ExperimentSection>;

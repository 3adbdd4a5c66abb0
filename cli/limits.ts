import type { LimitsFields } from '../protocol/transcript.js';

/** The executor's per-call limits (signed LeaseTerms.limits) as JSON numbers, for `--json` output. */
export function limitsJson(l: LimitsFields): Record<keyof LimitsFields, number> {
  return {
    memoryBytes: Number(l.memoryBytes),
    wallTimeMs: l.wallTimeMs,
    maxInputBytes: Number(l.maxInputBytes),
    maxOutputBytes: Number(l.maxOutputBytes),
    maxStderrBytes: Number(l.maxStderrBytes),
    maxMessageBytes: Number(l.maxMessageBytes),
  };
}

/** One line: "memory 64 MiB · wall time 5000 ms · input 4 MiB · output 4 MiB · stderr 64 KiB · message 40 MiB". */
export function formatLimits(l: LimitsFields): string {
  return [
    `memory ${bytes(l.memoryBytes)}`,
    `wall time ${l.wallTimeMs} ms`,
    `input ${bytes(l.maxInputBytes)}`,
    `output ${bytes(l.maxOutputBytes)}`,
    `stderr ${bytes(l.maxStderrBytes)}`,
    `message ${bytes(l.maxMessageBytes)}`,
  ].join(' · ');
}

function bytes(n: bigint): string {
  if (n >= 1n << 20n && n % (1n << 20n) === 0n) return `${n >> 20n} MiB`;
  if (n >= 1n << 10n && n % (1n << 10n) === 0n) return `${n >> 10n} KiB`;
  return `${n} B`;
}

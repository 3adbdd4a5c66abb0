import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';

/** Where a benchmark ran: numbers from a shared 2-core VM mean little without this. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly node: string;
  readonly platform: string;
  /** 1-, 5- and 15-minute load averages, when the run started and when it ended. */
  readonly loadStart: readonly number[];
  loadEnd: readonly number[];
  readonly startedAt: string;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) return m[1].trim();
  } catch {
    // Not Linux: fall through to os.cpus().
  }
  return cpus()[0]?.model ?? 'unknown';
}

const round2 = (xs: readonly number[]) => xs.map((x) => Math.round(x * 100) / 100);

export function machineInfo(): MachineInfo {
  return {
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadStart: round2(loadavg()),
    loadEnd: [],
    startedAt: new Date().toISOString(),
  };
}

export function finishMachineInfo(m: MachineInfo): MachineInfo {
  m.loadEnd = round2(loadavg());
  return m;
}

export function machineMarkdown(m: MachineInfo): string {
  return (
    `Machine: ${m.cpuModel}, ${m.cores} cores, Node ${m.node} (${m.platform}); run started ${m.startedAt}. ` +
    `Load average (1/5/15 min) ${m.loadStart.join(' / ')} at the start and ${m.loadEnd.join(' / ')} at the end: ` +
    `the VM is shared with other work, so absolute times are noisy; the ratios compare cases measured ` +
    `interleaved in the same run.`
  );
}

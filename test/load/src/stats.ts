// Latency samples and process figures read from /proc (Linux).
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Latency samples in milliseconds. Bounded: past `capacity` samples, reservoir sampling
 * (Vitter's algorithm R) keeps a uniform sample of everything recorded, so percentiles stay
 * unbiased while memory stays fixed.
 */
export class LatencySamples {
  private readonly samples: Float64Array;
  private length = 0;
  count = 0;

  constructor(readonly capacity = 500_000) {
    this.samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.count++;
    if (this.length < this.capacity) {
      this.samples[this.length++] = ms;
      return;
    }
    const slot = Math.floor(Math.random() * this.count);
    if (slot < this.capacity) this.samples[slot] = ms;
  }

  /** The kept samples (a copy), e.g. to merge several processes' samples. */
  values(): Float64Array {
    return this.samples.slice(0, this.length);
  }

  percentiles(ps: readonly number[]): number[] {
    return percentilesOf(this.values(), ps);
  }
}

/** Nearest-rank percentiles (p in 0..100) of unsorted values; NaN when there are none. */
export function percentilesOf(values: Float64Array | number[], ps: readonly number[]): number[] {
  const sorted = Float64Array.from(values).sort();
  return ps.map((p) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!));
}

export interface ProcessFigures {
  /** Resident set size, KiB (VmRSS). */
  rssKiB: number;
  /** User + system CPU time consumed so far, seconds. */
  cpuSeconds: number;
}

/** RSS and CPU time of any process, from /proc/<pid>/status and /proc/<pid>/stat. */
export function processFigures(pid: number): ProcessFigures {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name (which may contain spaces): utime is field 14.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssKiB: rss ? Number(rss[1]) : Number.NaN, cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND };
}

/** Sum over a process and all its descendants (e.g. `ambrosia dev` and its children). */
export function processTreeFigures(pid: number): ProcessFigures {
  const total = processFigures(pid);
  for (const child of childPids(pid)) {
    try {
      const f = processTreeFigures(child);
      total.rssKiB += f.rssKiB;
      total.cpuSeconds += f.cpuSeconds;
    } catch {
      // the child exited meanwhile
    }
  }
  return total;
}

function childPids(pid: number): number[] {
  try {
    const out: number[] = [];
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
    return out;
  } catch {
    return [];
  }
}

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds this process used since `since` (from process.cpuUsage()). */
export function cpuSecondsSince(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

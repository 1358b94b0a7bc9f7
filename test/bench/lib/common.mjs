// Shared by the Prosody/Ambrosia comparison benchmarks: settings from the environment, the two
// servers behind one shape, and the printed table.
import { processFigures, processTreeFigures } from '../../load/dist/index.js';
import { startProsody } from '../../prosody/dist/index.js';
import { startAmbrosia, AmbrosiaPending } from './ambrosia.mjs';

/** A positive integer from the environment, or the default. */
export function envInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name}=${raw}: expected a non-negative integer`);
  return value;
}

/** Which servers to measure: BENCH_SERVERS=prosody,ambrosia (default both). */
export function serversToRun() {
  return (process.env.BENCH_SERVERS ?? 'prosody,ambrosia').split(',').map((s) => s.trim()).filter(Boolean);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Benchmark accounts: user0 … user<n-1>, each with its own password. */
export function benchAccounts(n) {
  return Array.from({ length: n }, (_, i) => ({ username: `user${i}`, password: `bench-password-${i}` }));
}

/**
 * Starts one server under test. Returns { name, host, port, domain, caPem, pid, scramSeeds,
 * figures(), stop() }, where figures() is { rssKiB, cpuSeconds } of the server's processes.
 * Throws AmbrosiaPending when the Ambrosia side cannot run yet.
 */
export async function startServer(name, { accounts, domain = 'localhost', requireEncryption = false }) {
  if (name === 'prosody') {
    const p = await startProsody({ accounts, domain, requireEncryption });
    return {
      name,
      host: p.host,
      port: p.port,
      domain: p.domain,
      caPem: p.caPem,
      pid: p.pid,
      scramSeeds: p.scram.map((s) => ({ hash: 'sha1', ...s })),
      figures: () => processFigures(p.pid),
      output: () => p.output(),
      stop: () => p.stop(),
    };
  }
  if (name === 'ambrosia') {
    const a = await startAmbrosia({ users: accounts, domain });
    return {
      name,
      host: a.host,
      port: a.port,
      domain,
      caPem: a.caPem,
      pid: a.pid,
      scramSeeds: a.scramSeeds ?? [],
      figures: () => (a.pid ? processTreeFigures(a.pid) : { rssKiB: Number.NaN, cpuSeconds: Number.NaN }),
      output: () => a.output?.() ?? '',
      stop: () => a.stop(),
    };
  }
  throw new RangeError(`unknown server ${name}`);
}

export { AmbrosiaPending };

function format(value) {
  if (typeof value !== 'number') return String(value);
  if (!Number.isFinite(value)) return '-';
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : Number(value.toPrecision(3)).toString();
}

/**
 * Prints one line per measurement with the Prosody and Ambrosia figures side by side and their
 * ratio, and returns the rows for scripts/bench.mjs, ratios included (unit "x").
 * `results` maps server → scenario → metric → { value, unit }.
 */
export function report(title, results, { better = {} } = {}) {
  const rows = [];
  const lines = [];
  const scenarios = new Set();
  for (const byScenario of Object.values(results)) for (const s of Object.keys(byScenario)) scenarios.add(s);
  lines.push(`\n${title}`);
  lines.push(`${'scenario'.padEnd(14)} ${'metric'.padEnd(26)} ${'Prosody'.padStart(12)} ${'Ambrosia'.padStart(12)} ${'A/P'.padStart(7)}  unit`);
  for (const scenario of scenarios) {
    const metrics = new Set([...Object.keys(results.prosody?.[scenario] ?? {}), ...Object.keys(results.ambrosia?.[scenario] ?? {})]);
    for (const metric of metrics) {
      const p = results.prosody?.[scenario]?.[metric];
      const a = results.ambrosia?.[scenario]?.[metric];
      const unit = (p ?? a).unit;
      if (p && Number.isFinite(p.value)) rows.push({ name: `prosody ${scenario} ${metric}`, value: p.value, unit });
      if (a && Number.isFinite(a.value)) rows.push({ name: `ambrosia ${scenario} ${metric}`, value: a.value, unit });
      let ratio = Number.NaN;
      if (p && a && Number.isFinite(p.value) && Number.isFinite(a.value) && p.value !== 0) {
        ratio = a.value / p.value;
        rows.push({ name: `ambrosia/prosody ${scenario} ${metric}`, value: ratio, unit: 'x' });
      }
      const hint = better[metric] ? ` (${better[metric]} is better)` : '';
      lines.push(
        `${scenario.padEnd(14)} ${metric.padEnd(26)} ${format(p?.value ?? Number.NaN).padStart(12)} ${format(a?.value ?? Number.NaN).padStart(12)} ${(Number.isFinite(ratio) ? ratio.toFixed(2) : '-').padStart(7)}  ${unit}${hint}`,
      );
    }
  }
  console.log(lines.join('\n'));
  return rows;
}

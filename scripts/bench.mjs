#!/usr/bin/env node
// `npm run bench`: runs every benchmark (packages/*/bench/*.mjs and test/bench/*.mjs, each
// exporting `run(): Promise<Array<{ name, value, unit }>>`) in its own Node process, prints the
// figures and appends them to bench/results.jsonl with the commit and the machine they came from.
//   npm run bench               all benchmarks
//   npm run bench -- xml sasl   only the files whose path contains one of the words
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const MARK = '@@AMBROSIA_BENCH_RESULTS@@';
const PER_BENCH_TIMEOUT_MS = 15 * 60_000;

function benchFiles() {
  const dirs = [
    ...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p, 'bench')),
    join(root, 'test', 'bench'),
  ];
  return dirs
    .filter((d) => existsSync(d))
    .flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.mjs')).map((f) => join(d, f)))
    .filter((f) => filters.length === 0 || filters.some((w) => relative(root, f).includes(w)))
    .sort();
}

function runOne(file) {
  const program = `import(${JSON.stringify(file)}).then((m) => m.run()).then((r) => { process.stdout.write('\\n${MARK}' + JSON.stringify(r) + '\\n'); process.exit(0); }, (e) => { console.error(e); process.exit(1); });`;
  return new Promise((resolve) => {
    // The driver is a file, not `-e`: benchmarks that fork children inherit execArgv, and
    // `--input-type` with a file is an error.
    const driver = join(mkdtempSync(join(tmpdir(), 'ambrosia-bench-')), 'driver.mjs');
    writeFileSync(driver, program);
    const child = spawn(process.execPath, ['--expose-gc', driver], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      // Print what the benchmark prints, without the results line (which may share a chunk with it).
      const text = String(d)
        .split('\n')
        .filter((line) => !line.startsWith(MARK))
        .join('\n');
      if (text.trim() !== '') process.stdout.write(text);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), PER_BENCH_TIMEOUT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      rmSync(dirname(driver), { recursive: true, force: true });
      const line = out.split('\n').find((l) => l.startsWith(MARK));
      resolve(code === 0 && line ? JSON.parse(line.slice(MARK.length)) : undefined);
    });
  });
}

function commit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * A benchmark returns rows `[{ name, value, unit }]`, or `{ name, figures: { key: number | { value, unit } } }`
 * which becomes one row per figure (unit taken from the key's last `_` part, e.g. `rss_per_session_KiB`).
 */
const KEY_UNITS = new Set(['ms', 's', 'us', 'µs', 'B', 'KiB', 'MiB', 'GiB', 'x', 'pct']);
/** `acked_per_s_200B` → '/s'; `rss_per_session_KiB` → 'KiB'; anything else: no unit. */
function unitOfKey(key) {
  if (/_per_s(_|$)/.test(key)) return '/s';
  const last = key.slice(key.lastIndexOf('_') + 1);
  return key.includes('_') && KEY_UNITS.has(last) ? last : '';
}

function normalise(results) {
  if (Array.isArray(results)) return results;
  const rows = [];
  for (const [key, figure] of Object.entries(results.figures ?? {})) {
    const value = typeof figure === 'number' ? figure : figure?.value;
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    const unit = typeof figure === 'object' && figure.unit ? figure.unit : unitOfKey(key);
    rows.push({ name: `${results.name ?? ''} ${key}`.trim(), value, unit });
  }
  return rows;
}

const files = benchFiles();
if (files.length === 0) {
  console.error(`No benchmark matches ${filters.join(' ')}`);
  process.exit(1);
}
const machine = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30) };
const date = new Date().toISOString();
const rev = commit();
mkdirSync(join(root, 'bench'), { recursive: true });
let failures = 0;
const table = [];
for (const file of files) {
  const bench = relative(root, file);
  console.log(`\n== ${bench}`);
  const results = await runOne(file);
  if (!results) {
    failures++;
    console.error(`!! ${bench} failed`);
    continue;
  }
  for (const r of normalise(results)) {
    table.push({ bench, ...r });
    appendFileSync(join(root, 'bench', 'results.jsonl'), JSON.stringify({ date, commit: rev, ...machine, bench, ...r }) + '\n');
  }
}
console.log('\n== Results (appended to bench/results.jsonl)');
for (const r of table) {
  const value = r.value >= 100 ? Math.round(r.value).toLocaleString('en-US') : Number(r.value.toPrecision(3)).toString();
  console.log(`${r.bench.padEnd(48)} ${r.name.padEnd(56)} ${value.padStart(14)} ${r.unit}`);
}
process.exit(failures > 0 ? 1 : 0);

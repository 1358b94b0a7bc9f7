/**
 * Runs this package's sources in a separate Node process, to watch what happens to its Redis
 * children when that process exits or is killed. The sources are transpiled (types stripped, no
 * bundling) into a temporary directory: the code that runs is the code under test.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

const SOURCE_DIR = new URL('../../src/', import.meta.url);

/** Transpiles src/*.ts into a fresh directory; returns it and the URL of its index.js. */
export function transpileSources(): { dir: string; indexUrl: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ambrosia-testing-redis-js-'));
  for (const name of readdirSync(SOURCE_DIR)) {
    if (!name.endsWith('.ts')) continue;
    const source = readFileSync(new URL(name, SOURCE_DIR), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: name,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    writeFileSync(join(dir, name.replace(/\.ts$/, '.js')), outputText);
  }
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  return { dir, indexUrl: pathToFileURL(join(dir, 'index.js')).href };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface ChildRun {
  /** Resolves with the first line the script prints (JSON). */
  firstLine: Promise<unknown>;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): void;
  output(): string;
}

/** Runs `script` (an ES module body) with `node --input-type=module`. */
export function runScript(script: string, env: NodeJS.ProcessEnv = process.env): ChildRun {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let resolveLine: (value: unknown) => void = () => undefined;
  let rejectLine: (error: Error) => void = () => undefined;
  const firstLine = new Promise<unknown>((resolve, reject) => {
    resolveLine = resolve;
    rejectLine = reject;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    const newline = stdout.indexOf('\n');
    if (newline !== -1) resolveLine(JSON.parse(stdout.slice(0, newline)));
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      rejectLine(new Error(`child exited (${code ?? signal}) before printing; stderr:\n${stderr}`));
      resolve(code ?? signal ?? -1);
    });
  });
  return { firstLine, exited, kill: (signal) => child.kill(signal), output: () => `stdout:\n${stdout}\nstderr:\n${stderr}` };
}

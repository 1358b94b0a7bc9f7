// Child processes for end-to-end tests: third-party clients and the `ambrosia` binary, each with
// a hard deadline and killed when the test ends, so no test leaves a process behind.
import { spawn, type ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout's JSON lines, parsed (other lines skipped). */
  events: Array<Record<string, unknown>>;
}

export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{') && l.endsWith('}'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Runs a program to its end (or kills it at `timeoutMs`) and returns what it printed. */
export function runProcess(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Finished> {
  const child = spawn(command, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, stdout, stderr, events: jsonLines(stdout) });
    });
  });
}

/** Starts a long-running program; `until(predicate)` waits (bounded) for its output to match. */
export function startProcess(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const child = spawn(command, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    async until(predicate: (stdout: string) => boolean, timeoutMs = 30_000): Promise<void> {
      const end = Date.now() + timeoutMs;
      while (!predicate(stdout)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process ended early: ${stderr || stdout}`);
        if (Date.now() > end) throw new Error(`timed out waiting for output; stdout: ${stdout} stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}

/** Kills every child still running (call from afterAll/afterEach). */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

// The built `ambrosia` command as a child process: its JSON log lines parsed as they arrive,
// bounded waits for an event, and every process killed when the test file ends.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/bin/ambrosia.js', import.meta.url));
const running = new Set<ChildProcess>();
/** Worker processes seen in the logs (a killed primary's workers stop by themselves; these are killed anyway). */
const workerPids = new Set<number>();

/** Builds the workspace once if the CLI (or a package it runs) has no dist yet. */
export function ensureBuilt(): void {
  const needed = [CLI, fileURLToPath(new URL('../../dist/runtime/worker.js', import.meta.url)), `${repoRoot}packages/config/dist/index.js`, `${repoRoot}packages/im-service/dist/index.js`];
  if (needed.every((file) => existsSync(file))) return;
  const build = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, stdio: 'inherit', timeout: 300_000 });
  if (build.status !== 0) throw new Error('npm run build failed');
}

export type LogEvent = Record<string, unknown> & { event?: string };

export interface AmbrosiaProcess {
  child: ChildProcess;
  readonly events: LogEvent[];
  readonly stdout: string;
  readonly stderr: string;
  /** The first event (already seen or to come) matching, within `timeoutMs`. */
  waitFor(match: (event: LogEvent) => boolean, timeoutMs?: number, what?: string): Promise<LogEvent>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Exit within `timeoutMs`, or the process is killed and this rejects. */
  exit(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startAmbrosia(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): AmbrosiaProcess {
  const env = { ...process.env, ...options.env };
  for (const name of Object.keys(env)) if (name.startsWith('AMBROSIA_') && !(options.env && name in options.env)) delete env[name];
  const child = spawn(process.execPath, [CLI, ...args], { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  let pending = '';
  const events: LogEvent[] = [];
  const waiters = new Set<{ match: (e: LogEvent) => boolean; resolve: (e: LogEvent) => void }>();
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    stdout += text;
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const event = JSON.parse(line) as LogEvent;
      events.push(event);
      if (typeof event.workerPid === 'number') workerPids.add(event.workerPid);
      for (const waiter of waiters) {
        if (waiter.match(event)) {
          waiters.delete(waiter);
          waiter.resolve(event);
        }
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return {
    child,
    events,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitFor(match, timeoutMs = 20_000, what = 'a log event') {
      const seen = events.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (e: LogEvent) => {
            clearTimeout(timer);
            resolve(e);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`timed out waiting for ${what}; stderr: ${stderr.slice(-2000)}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(() => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`the process exited while waiting for ${what}; stderr: ${stderr.slice(-2000)}`));
        });
      });
    },
    async exit(timeoutMs = 30_000) {
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([exited, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)))]);
      clearTimeout(timer);
      if (result === undefined) {
        child.kill('SIGKILL');
        throw new Error(`the process did not exit within ${timeoutMs} ms`);
      }
      return result;
    },
  };
}

/** Kills every process still running (afterAll), and waits for them. */
export async function killAll(): Promise<void> {
  const waits = [...running].map((child) => new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  }));
  await Promise.all(waits);
  for (const pid of workerPids) {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  workerPids.clear();
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

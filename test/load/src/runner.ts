// Sessions spread over child processes when one process cannot hold them: a process may have at
// most 20,000 open files here, and one source address has ~28,000 ephemeral ports towards one
// server port, so each child gets its own 127.x source address on a loopback target.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Account, LoadTarget } from './connection.js';
import { Fleet, type ExchangeOptions, type ExchangeResult, type OpenOptions, type OpenResult } from './fleet.js';
import { SaltedPasswordCache, type ScramHash } from './scram.js';

export interface ScramSeed {
  hash: ScramHash;
  username: string;
  password: string;
  saltBase64: string;
  iterations: number;
  saltedPassword: Buffer;
}

export interface RunnerOptions {
  target: LoadTarget;
  /** How many sessions will be opened (decides the number of processes). */
  sessions: number;
  /** Child processes; 0 = everything in this process. Default: 0 up to `maxSessionsPerProcess`. */
  processes?: number;
  /** Default 15,000 (below the 20,000 open-files limit, with room for the process's own). */
  maxSessionsPerProcess?: number;
  /** Source address per child, in turn; default 127.0.0.<k+1> for a 127.x target, none otherwise. */
  sourceAddresses?: readonly string[];
  /** SaltedPasswords computed elsewhere (e.g. when the accounts were written). */
  scramSeeds?: readonly ScramSeed[];
  /**
   * The child's entry point; default the compiled dist/worker.js. Tests run the sources with
   * `{ script: '…/src/worker.ts', execArgv: ['--conditions=source', '--import', '…/support/ts-loader.mjs'] }`.
   */
  worker?: { script: string; execArgv?: string[] };
}

export interface LoadRunner {
  readonly processes: number;
  open(accounts: readonly Account[], options?: OpenOptions): Promise<OpenResult>;
  exchange(options: ExchangeOptions): Promise<ExchangeResult>;
  closeAll(): Promise<void>;
  /** Closes every session and ends the child processes. */
  stop(): Promise<void>;
}

/** Request sent to a worker, and its answer. */
export type WorkerRequest =
  | { id: number; op: 'init'; target: LoadTarget; seeds: ScramSeed[] }
  | { id: number; op: 'open'; accounts: Account[]; options: OpenOptions }
  | { id: number; op: 'exchange'; options: ExchangeOptions }
  | { id: number; op: 'close' };
/** A request before the runner numbers it. */
export type WorkerCommand = WorkerRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;
export type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

const LONG_OPERATION_MS = 30 * 60_000;

export function seededCache(seeds: readonly ScramSeed[] = []): SaltedPasswordCache {
  const cache = new SaltedPasswordCache(Math.max(200_000, seeds.length));
  for (const s of seeds) cache.set(s.hash, s.username, s.password, s.saltBase64, s.iterations, s.saltedPassword);
  return cache;
}

export async function createLoadRunner(options: RunnerOptions): Promise<LoadRunner> {
  const perProcess = options.maxSessionsPerProcess ?? 15_000;
  const processes = options.processes ?? (options.sessions <= perProcess ? 0 : Math.ceil(options.sessions / perProcess));
  if (processes === 0) return inProcessRunner(options);
  return childProcessRunner(options, processes);
}

function inProcessRunner(options: RunnerOptions): LoadRunner {
  const fleet = new Fleet(options.target, seededCache(options.scramSeeds));
  return {
    processes: 0,
    open: (accounts, openOptions) => fleet.open(accounts, { ...(options.sourceAddresses?.[0] ? { localAddress: options.sourceAddresses[0] } : {}), ...openOptions }),
    exchange: (o) => fleet.exchange(o),
    closeAll: () => fleet.closeAll(),
    stop: () => fleet.closeAll(),
  };
}

class Worker {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private exited = false;

  constructor(readonly child: ChildProcess) {
    child.on('message', (reply: WorkerReply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      clearTimeout(waiter.timer);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new Error(`load worker: ${reply.error}`));
    });
    child.on('exit', (code, signal) => {
      this.exited = true;
      for (const [, waiter] of this.pending) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`load worker exited (${signal ?? code})`));
      }
      this.pending.clear();
    });
  }

  request<T>(request: WorkerCommand, timeoutMs = LONG_OPERATION_MS): Promise<T> {
    if (this.exited) return Promise.reject(new Error('load worker has exited'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`load worker: ${request.op} did not answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ ...request, id });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.disconnect(); // the worker closes its sessions and exits
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
}

function workerScript(): string {
  // Children run the compiled worker: Node cannot run the TypeScript source.
  const here = fileURLToPath(import.meta.url);
  const compiled = here.endsWith('.js') ? here.replace(/runner\.js$/, 'worker.js') : here.replace(/\/src\/runner\.ts$/, '/dist/worker.js');
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: build test/load first (npm run build)`);
  return compiled;
}

function loopbackSources(target: LoadTarget, processes: number): Array<string | undefined> {
  if (!target.host.startsWith('127.')) return Array.from({ length: processes }, () => undefined);
  return Array.from({ length: processes }, (_, k) => `127.0.${Math.floor((k + 1) / 250)}.${((k + 1) % 250) + 1}`);
}

async function childProcessRunner(options: RunnerOptions, processes: number): Promise<LoadRunner> {
  const script = options.worker?.script ?? workerScript();
  const execArgv = options.worker?.execArgv ?? [];
  const sources = options.sourceAddresses ? Array.from({ length: processes }, (_, k) => options.sourceAddresses![k % options.sourceAddresses!.length]) : loopbackSources(options.target, processes);
  const workers = Array.from({ length: processes }, () => new Worker(fork(script, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })));
  const seeds = [...(options.scramSeeds ?? [])];
  // Which contiguous slice of the accounts each worker holds (even sizes keep pairs together).
  let slices: Array<{ start: number; end: number }> = [];
  try {
    await Promise.all(workers.map((w) => w.request({ op: 'init', target: options.target, seeds }, 60_000)));
  } catch (error) {
    await Promise.all(workers.map((w) => w.stop()));
    throw error;
  }
  const sliceOf = (index: number) => slices.findIndex((s) => index >= s.start && index < s.end);

  return {
    processes,
    async open(accounts, openOptions = {}) {
      let size = Math.ceil(accounts.length / processes);
      size += size % 2;
      slices = workers.map((_, k) => ({ start: Math.min(accounts.length, k * size), end: Math.min(accounts.length, (k + 1) * size) }));
      const concurrency = Math.max(1, Math.ceil((openOptions.concurrency ?? 100) / processes));
      const results = await Promise.all(
        workers.map((w, k) =>
          w.request<OpenResult>({
            op: 'open',
            accounts: accounts.slice(slices[k]!.start, slices[k]!.end),
            options: { ...openOptions, concurrency, ...(sources[k] ? { localAddress: sources[k] } : {}) },
          }),
        ),
      );
      return mergeOpen(results);
    },
    async exchange(exchangeOptions) {
      const perWorker = workers.map(() => [] as Array<readonly [number, number]>);
      for (const [from, to] of exchangeOptions.pairs) {
        const k = sliceOf(from);
        if (k < 0 || sliceOf(to) !== k) throw new Error(`pair ${from}→${to} spans two load processes: pair accounts 2k and 2k+1`);
        perWorker[k]!.push([from - slices[k]!.start, to - slices[k]!.start]);
      }
      const results = await Promise.all(
        workers.map((w, k) => (perWorker[k]!.length === 0 ? undefined : w.request<ExchangeResult>({ op: 'exchange', options: { ...exchangeOptions, pairs: perWorker[k]! } }))),
      );
      return mergeExchange(results.filter((r): r is ExchangeResult => r !== undefined));
    },
    async closeAll() {
      await Promise.all(workers.map((w) => w.request({ op: 'close' }, 120_000)));
    },
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
}

function mergeOpen(results: OpenResult[]): OpenResult {
  const errors: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  return {
    opened: results.reduce((n, r) => n + r.opened, 0),
    failed: results.reduce((n, r) => n + r.failed, 0),
    errors,
    elapsedMs: Math.max(...results.map((r) => r.elapsedMs)),
    // Percentiles do not merge exactly; the worst process's figure is the honest upper bound.
    loginP50Ms: Math.max(...results.map((r) => r.loginP50Ms)),
    loginP99Ms: Math.max(...results.map((r) => r.loginP99Ms)),
    clientCpuSeconds: results.reduce((n, r) => n + r.clientCpuSeconds, 0),
  };
}

function mergeExchange(results: ExchangeResult[]): ExchangeResult {
  const sum = (f: (r: ExchangeResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const latencies = new Float64Array(sum((r) => r.latencies.length));
  let offset = 0;
  for (const r of results) {
    latencies.set(r.latencies, offset);
    offset += r.latencies.length;
  }
  return {
    sent: sum((r) => r.sent),
    received: sum((r) => r.received),
    measured: sum((r) => r.measured),
    measuredMs: Math.max(...results.map((r) => r.measuredMs)),
    lost: sum((r) => r.lost),
    outOfOrder: sum((r) => r.outOfOrder),
    errors: sum((r) => r.errors),
    latencies,
    clientCpuSeconds: sum((r) => r.clientCpuSeconds),
  };
}

/**
 * One `redis-server` (or Sentinel) process on a loopback port, in its own directory, with a
 * lifecycle tests can drive: stop, kill (a crash), restart on the same port with or without data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readdirSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { locate, redisVersion, requireProgram } from './binaries.js';
import { TestingRedisError, hasCode } from './errors.js';
import { makeServerDir, registerServer, trackChild, unregisterServer, untrackChild } from './lifecycle.js';
import { RESERVED_PORTS, freePort } from './ports.js';
import { parseInfo, sendCommand } from './resp.js';
import { delay, waitFor } from './wait.js';

/** The only interface servers bind; tests never listen beyond loopback. */
export const LOOPBACK = '127.0.0.1';

/** How long a process may take to answer PING after it is spawned. */
export const READY_TIMEOUT_MS = 15_000;
/** How long a process may take to exit after SIGTERM (or SHUTDOWN) before it gets SIGKILL. */
export const STOP_GRACE_MS = 5_000;
/** How long a process may take to disappear after SIGKILL. */
const KILL_TIMEOUT_MS = 5_000;
/** Fresh ports tried when the kernel-chosen one is taken before Redis binds it. */
const PORT_ATTEMPTS = 5;
/** Tries at rebinding the same port on restart (another process may hold it for a moment). */
const RESTART_BIND_ATTEMPTS = 5;
/** Bytes of the log quoted in a start failure. */
const LOG_TAIL_BYTES = 4096;
/** Files `restart({ empty: true })` keeps: configuration and the log, never data. */
const KEPT_ON_EMPTY = new Set(['redis.conf', 'sentinel.conf', 'nodes.conf', 'redis.log']);

export interface RedisServer {
  readonly host: string;
  /** Stays the same across restarts. */
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Pid of the current (or last) process. Changes on restart. */
  readonly pid: number;
  /** The server's own directory (config, log, data); removed by stop(). */
  readonly dir: string;
  /** The process's stdout/stderr (Redis's log), inside `dir`. */
  readonly logFile: string;
  /** False after kill(), stop(), or if the process died by itself. */
  readonly running: boolean;
  /** SIGTERM, then SIGKILL after STOP_GRACE_MS; removes `dir`. Idempotent; the server cannot be restarted afterwards. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would: `dir` stays, restart() brings the server back. */
  kill(): Promise<void>;
  /**
   * Restarts on the same port. By default the data survives (a running server is shut down with
   * `SHUTDOWN SAVE`, whatever `persistence` says); `empty: true` wipes the data files first
   * (configuration such as nodes.conf and sentinel.conf is kept). After kill(), the data is
   * whatever persistence left on disk (nothing unless `persistence: true`).
   */
  restart(opts?: { empty?: boolean }): Promise<void>;
  /** Deliberately absent: this package hands out addresses; tests build their own clients (ioredis). */
  client?(): never;
}

export interface StartRedisOptions {
  /** A fixed port; default: a free one. 6379, 16379 and 26379 are refused. */
  port?: number;
  /** Extra command-line arguments for redis-server, e.g. `['--maxmemory', '10mb']`. */
  args?: string[];
  /** AOF (`appendfsync everysec`) plus the default RDB save points. Default false: `save ''`, `appendonly no`. */
  persistence?: boolean;
}

/** How to launch one process; internal to the package (Sentinel and Cluster build on it). */
export interface LaunchSpec {
  kind: 'redis' | 'sentinel';
  port?: number;
  args?: string[];
  persistence?: boolean;
  /** Extra configuration lines, given the chosen port (a cluster node also picks its bus port here). */
  configure?: (port: number) => Promise<string[]>;
}

function quoteConfig(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The last LOG_TAIL_BYTES of `logFile`, never before byte `from` (earlier runs of the same server). */
function readLogTail(logFile: string, from = 0): string {
  let fd: number | undefined;
  try {
    fd = openSync(logFile, 'r');
    const size = fstatSync(fd).size;
    const start = Math.max(from, size - LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(Math.max(0, size - start));
    readSync(fd, buffer, 0, buffer.length, start);
    const text = buffer.toString('utf8').trim();
    return text.length > 0 ? text : '(empty log)';
  } catch {
    return '(no log)';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

async function baseConfig(spec: LaunchSpec, port: number, dir: string): Promise<string[]> {
  const lines = [
    '# Written by @ambrosia/testing-redis; CONFIG REWRITE and Sentinel may append to it.',
    `port ${port}`,
    `bind ${LOOPBACK}`,
    'daemonize no',
    // The log goes to stdout, which is redis.log in `dir` (so early config errors land there too).
    'logfile ""',
    `dir ${quoteConfig(dir)}`,
  ];
  if (spec.kind === 'redis') {
    // A full sync starts at once instead of waiting 5 s for more replicas to join it.
    lines.push('always-show-logo no', 'repl-diskless-sync-delay 0');
    if (spec.persistence === true) {
      lines.push('appendonly yes', 'appendfsync everysec', 'save 3600 1 300 100 60 10000');
    } else {
      lines.push('save ""', 'appendonly no');
    }
    // Lets tests stall a server on purpose (DEBUG SLEEP); loopback connections only (Redis >= 7.0).
    if ((await redisVersion()).major >= 7) lines.push('enable-debug-command local');
  }
  return lines;
}

function programFor(kind: LaunchSpec['kind'], configFile: string, args: readonly string[]): { path: string; argv: string[] } {
  if (kind === 'sentinel') {
    const sentinel = locate('redis-sentinel');
    if (sentinel !== null) return { path: sentinel, argv: [configFile, ...args] };
    // `redis-server <config> --sentinel` is the same program in Sentinel mode.
    return { path: requireProgram('redis-server'), argv: [configFile, '--sentinel', ...args] };
  }
  return { path: requireProgram('redis-server'), argv: [configFile, ...args] };
}

interface Spawned {
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  hasExited: () => boolean;
}

async function spawnLogged(path: string, argv: string[], dir: string, logFile: string): Promise<Spawned> {
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(path, argv, { cwd: dir, stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  if (child.pid === undefined) {
    const error = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new TestingRedisError('ERR_REDIS_START_FAILED', `cannot start ${path}: ${error.message}`, { cause: error });
  }
  const pid = child.pid;
  trackChild(pid);
  // A forgotten server must not keep the process alive; the exit hook kills it instead.
  child.unref();
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    // 'exit' fires once the child is reaped, so `kill -0 pid` fails afterwards.
    child.once('exit', () => {
      exited = true;
      untrackChild(pid);
      resolve();
    });
  });
  child.on('error', () => {
    // Signalling a process that is already gone; 'exit' reports the end.
  });
  return { child, pid, exited: exitedPromise, hasExited: () => exited };
}

async function awaitExit(spawned: Spawned, timeoutMs: number): Promise<boolean> {
  if (spawned.hasExited()) return true;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([spawned.exited.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

async function forceKill(spawned: Spawned, what: string): Promise<void> {
  if (spawned.hasExited()) return;
  spawned.child.kill('SIGKILL');
  if (!(await awaitExit(spawned, KILL_TIMEOUT_MS))) {
    throw new TestingRedisError('ERR_REDIS_TIMEOUT', `${what} (pid ${spawned.pid}) still running ${KILL_TIMEOUT_MS} ms after SIGKILL`);
  }
}

/** SIGTERM, then SIGKILL once STOP_GRACE_MS has passed. */
async function terminate(spawned: Spawned, what: string): Promise<void> {
  if (spawned.hasExited()) return;
  spawned.child.kill('SIGTERM');
  if (await awaitExit(spawned, STOP_GRACE_MS)) return;
  await forceKill(spawned, what);
}

/**
 * Spawns the process and waits until it answers PING and INFO reports its own pid (so a server
 * of another process that happens to own the port is never mistaken for ours).
 */
async function spawnReady(spec: LaunchSpec, port: number, dir: string, configFile: string, logFile: string): Promise<Spawned> {
  const { path, argv } = programFor(spec.kind, configFile, spec.args ?? []);
  const logStart = fileSize(logFile);
  const spawned = await spawnLogged(path, argv, dir, logFile);
  const what = `${spec.kind === 'sentinel' ? 'redis-sentinel' : 'redis-server'} on ${LOOPBACK}:${port}`;
  const failure = (): Error | undefined => {
    if (!spawned.hasExited()) return undefined;
    const recent = readLogTail(logFile, logStart).split('\n').slice(-20).join('\n');
    if (/Address already in use/i.test(recent)) {
      return new TestingRedisError('ERR_REDIS_PORT_IN_USE', `${what}: port already in use\n${recent}`);
    }
    return new TestingRedisError('ERR_REDIS_START_FAILED', `${what} exited before answering PING; log ${logFile}:\n${recent}`);
  };
  const onExit = new AbortController();
  void spawned.exited.then(() => onExit.abort());
  const exitSignal = onExit.signal;
  try {
    await waitFor(
      `${what} to answer PING`,
      async () => {
        // A stranger holding the port may never answer: stop asking as soon as our process exits.
        const ask = (args: string[]) => sendCommand({ host: LOOPBACK, port }, args, { timeoutMs: 1000, signal: exitSignal });
        const pong = await ask(['PING']);
        if (pong !== 'PONG') return { notYet: `PING answered ${JSON.stringify(pong)}` };
        const info = parseInfo(await ask(['INFO', 'server']));
        const owner = Number(info.get('process_id'));
        if (owner !== spawned.pid) {
          return { fail: new TestingRedisError('ERR_REDIS_PORT_IN_USE', `${what}: the port is served by another process (pid ${owner})`) };
        }
        return { done: undefined };
      },
      { timeoutMs: READY_TIMEOUT_MS, abort: failure },
    );
    return spawned;
  } catch (error) {
    await forceKill(spawned, what).catch(() => undefined);
    if (hasCode(error, 'ERR_REDIS_TIMEOUT')) {
      throw new TestingRedisError('ERR_REDIS_START_FAILED', `${(error as Error).message}\nlog ${logFile}:\n${readLogTail(logFile, logStart)}`, { cause: error });
    }
    throw error;
  }
}

class ManagedRedis implements RedisServer {
  readonly host = LOOPBACK;
  readonly port: number;
  readonly dir: string;
  readonly logFile: string;
  readonly #spec: LaunchSpec;
  readonly #configFile: string;
  #process: Spawned;
  #disposed = false;
  /** Operations run one at a time: a restart racing a stop would leave a stray process. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(spec: LaunchSpec, port: number, dir: string, configFile: string, logFile: string, spawned: Spawned) {
    this.#spec = spec;
    this.port = port;
    this.dir = dir;
    this.#configFile = configFile;
    this.logFile = logFile;
    this.#process = spawned;
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  get pid(): number {
    return this.#process.pid;
  }

  get running(): boolean {
    return !this.#disposed && !this.#process.hasExited();
  }

  #serialize<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(operation, operation);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  get #what(): string {
    return `${this.#spec.kind === 'sentinel' ? 'redis-sentinel' : 'redis-server'} on ${this.host}:${this.port}`;
  }

  stop(): Promise<void> {
    return this.#serialize(async () => {
      if (this.#disposed) return;
      this.#disposed = true;
      unregisterServer(this);
      try {
        await terminate(this.#process, this.#what);
      } finally {
        rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
      }
    });
  }

  kill(): Promise<void> {
    return this.#serialize(async () => {
      this.#assertNotDisposed();
      await forceKill(this.#process, this.#what);
    });
  }

  restart(opts: { empty?: boolean } = {}): Promise<void> {
    return this.#serialize(async () => {
      this.#assertNotDisposed();
      if (!this.#process.hasExited()) {
        if (opts.empty === true || this.#spec.kind === 'sentinel') await terminate(this.#process, this.#what);
        else await this.#shutdownSaving();
      }
      if (opts.empty === true) this.#wipeData();
      this.#process = await this.#respawnOnSamePort();
      if (this.#spec.kind === 'redis' && this.#spec.persistence !== true) this.#forgetSnapshot();
    });
  }

  /** SHUTDOWN SAVE writes dump.rdb even with `save ''`, so the next start loads the data. */
  async #shutdownSaving(): Promise<void> {
    try {
      await sendCommand({ host: this.host, port: this.port }, ['SHUTDOWN', 'SAVE'], { timeoutMs: STOP_GRACE_MS });
    } catch (error) {
      // A successful SHUTDOWN closes the connection without a reply; an error reply means Redis refused.
      if (!hasCode(error, 'ERR_REDIS_CONNECTION')) throw error;
    }
    if (await awaitExit(this.#process, STOP_GRACE_MS)) return;
    await forceKill(this.#process, this.#what);
    throw new TestingRedisError('ERR_REDIS_TIMEOUT', `${this.#what} did not finish SHUTDOWN SAVE within ${STOP_GRACE_MS} ms; it was killed and its data may be lost`);
  }

  #wipeData(): void {
    for (const name of readdirSync(this.dir)) {
      if (!KEPT_ON_EMPTY.has(name)) rmSync(join(this.dir, name), { recursive: true, force: true });
    }
  }

  /**
   * Without persistence, the snapshot SHUTDOWN SAVE wrote has been loaded: drop it, so a later
   * kill() + restart() comes back empty as a non-persistent server would, not with stale data.
   */
  #forgetSnapshot(): void {
    rmSync(join(this.dir, 'dump.rdb'), { force: true });
  }

  async #respawnOnSamePort(): Promise<Spawned> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await spawnReady(this.#spec, this.port, this.dir, this.#configFile, this.logFile);
      } catch (error) {
        if (!hasCode(error, 'ERR_REDIS_PORT_IN_USE') || attempt >= RESTART_BIND_ATTEMPTS) throw error;
        // Another process holds the port for a moment (a kernel-chosen client port, say); try again shortly.
        await delay(100 * attempt);
      }
    }
  }

  #assertNotDisposed(): void {
    if (this.#disposed) throw new TestingRedisError('ERR_REDIS_STOPPED', `${this.#what} was stopped; start a new server instead`);
  }
}

function validatePort(port: number | undefined): void {
  if (port === undefined) return;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TestingRedisError('ERR_REDIS_INVALID_OPTION', `port ${port} is not a TCP port`);
  }
  if (RESERVED_PORTS.has(port)) {
    throw new TestingRedisError('ERR_REDIS_INVALID_OPTION', `port ${port} belongs to the machine's own Redis; tests never use it`);
  }
}

/** Starts one process per LaunchSpec; retries with a fresh port when a kernel-chosen one was taken meanwhile. */
export async function launch(spec: LaunchSpec): Promise<RedisServer> {
  validatePort(spec.port);
  programFor(spec.kind, '', []); // fails early, naming the package to install
  const dir = makeServerDir(spec.kind);
  const configFile = join(dir, spec.kind === 'sentinel' ? 'sentinel.conf' : 'redis.conf');
  const logFile = join(dir, 'redis.log');
  try {
    for (let attempt = 1; ; attempt += 1) {
      const port = spec.port ?? (await freePort(LOOPBACK));
      const lines = [...(await baseConfig(spec, port, dir)), ...((await spec.configure?.(port)) ?? [])];
      writeFileSync(configFile, `${lines.join('\n')}\n`);
      try {
        const spawned = await spawnReady(spec, port, dir, configFile, logFile);
        const server = new ManagedRedis(spec, port, dir, configFile, logFile, spawned);
        registerServer(server);
        return server;
      } catch (error) {
        const retry = hasCode(error, 'ERR_REDIS_PORT_IN_USE') && spec.port === undefined && attempt < PORT_ATTEMPTS;
        if (!retry) throw error;
      }
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Starts a standalone redis-server on a free loopback port (or `opts.port`) and waits until it answers PING. */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  return launch({ kind: 'redis', ...opts });
}

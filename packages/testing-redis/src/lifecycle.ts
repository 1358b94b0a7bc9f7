/**
 * Everything this process started, and the guarantees that none of it outlives the process:
 *
 * 1. `process.on('exit')` SIGKILLs every live child synchronously and removes the scratch root
 *    (normal exit, `process.exit()`, an uncaught exception).
 * 2. A watchdog (`/bin/sh`, one per process) holds the read end of a pipe from this process. When
 *    this process dies in a way that runs no JavaScript (SIGKILL, SIGTERM without a handler, a
 *    crash), the kernel closes the pipe, the watchdog reads end-of-file and SIGKILLs the children
 *    it was told about, then removes the scratch root.
 *
 * Nothing here runs at import time (the package is `sideEffects: false`): the hooks are installed
 * by the first server start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Pids of children that are running (or not yet reaped). */
const livePids = new Set<number>();
let scratchRootDir: string | undefined;
let watchdog: ChildProcess | undefined;
let exitHookInstalled = false;

// The watchdog: "+pid" adds a child, "-pid" forgets it; at end-of-file it kills what is left and
// removes the scratch root (twice, in case a dying child was still writing).
const WATCHDOG_SCRIPT = `
root=$1
pids=
while IFS= read -r line; do
  case $line in
    +*) pids="$pids \${line#+}" ;;
    -*) gone=\${line#-}; kept=; for p in $pids; do [ "$p" = "$gone" ] || kept="$kept $p"; done; pids=$kept ;;
  esac
done
[ -n "$pids" ] && kill -9 $pids 2>/dev/null
rm -rf -- "$root" 2>/dev/null || { sleep 1; rm -rf -- "$root"; }
`;

function killEverythingNow(): void {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  livePids.clear();
  if (scratchRootDir !== undefined) {
    try {
      rmSync(scratchRootDir, { recursive: true, force: true });
    } catch {
      // the watchdog tries again once this process is gone
    }
  }
}

function startWatchdog(root: string): void {
  try {
    const child = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'ambrosia-redis-watchdog', root], {
      stdio: ['pipe', 'ignore', 'ignore'],
      // Its own process group: a Ctrl-C aimed at the test run must not kill it before it cleans up.
      detached: true,
    });
    child.on('error', () => {
      // No /bin/sh: the exit hook alone remains.
      watchdog = undefined;
    });
    child.stdin?.on('error', () => {
      watchdog = undefined;
    });
    // Neither the watchdog nor its pipe may keep this process alive.
    child.unref();
    (child.stdin as Socket | null)?.unref();
    watchdog = child;
  } catch {
    watchdog = undefined;
  }
}

function tellWatchdog(line: string): void {
  const stdin = watchdog?.stdin;
  if (stdin && !stdin.destroyed) stdin.write(`${line}\n`);
}

/** The per-process directory holding every server's own directory; created on first use. */
export function scratchRoot(): string {
  if (scratchRootDir === undefined) {
    scratchRootDir = mkdtempSync(join(tmpdir(), `ambrosia-redis-${process.pid}-`));
    if (!exitHookInstalled) {
      process.on('exit', killEverythingNow);
      exitHookInstalled = true;
    }
    startWatchdog(scratchRootDir);
  }
  return scratchRootDir;
}

/** A fresh directory for one server, under the scratch root (so under `os.tmpdir()`). */
export function makeServerDir(prefix: string): string {
  return mkdtempSync(join(scratchRoot(), `${prefix}-`));
}

export function trackChild(pid: number): void {
  livePids.add(pid);
  tellWatchdog(`+${pid}`);
}

export function untrackChild(pid: number): void {
  if (livePids.delete(pid)) tellWatchdog(`-${pid}`);
}

/** Something `stopAll()` must stop: a server, a Sentinel group or a cluster. */
export interface Stoppable {
  stop(): Promise<void>;
}

const liveTopologies = new Set<Stoppable>();
const liveServers = new Set<Stoppable>();

export function registerTopology(topology: Stoppable): void {
  liveTopologies.add(topology);
}
export function unregisterTopology(topology: Stoppable): void {
  liveTopologies.delete(topology);
}
export function registerServer(server: Stoppable): void {
  liveServers.add(server);
}
export function unregisterServer(server: Stoppable): void {
  liveServers.delete(server);
}

/**
 * Stops everything this process started and has not stopped yet: Sentinel groups and clusters
 * first (they stop their own servers in a safe order), then the remaining servers. Every stop is
 * attempted; the first failure is rethrown afterwards.
 */
export async function stopAll(): Promise<void> {
  const failures: unknown[] = [];
  for (const batch of [liveTopologies, liveServers]) {
    const results = await Promise.allSettled([...batch].map((item) => item.stop()));
    for (const result of results) if (result.status === 'rejected') failures.push(result.reason);
  }
  if (failures.length > 0) throw failures[0];
}

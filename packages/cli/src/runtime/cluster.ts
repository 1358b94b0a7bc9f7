// The process model of `ambrosia gateway` with several processes: a primary that only
// supervises, and one worker per slot, each a Gateway with its own id `<id>-<n>` in the registry.
// Workers share the client listeners (node:cluster, round-robin: the primary accepts and hands
// each connection to the next worker); each has its own service port, because a service keeps
// one channel to every gateway and must reach that gateway and no other.
import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { AmbrosiaConfig } from '@ambrosia/config';
import { CliError } from '../output.js';
import { EXIT_GRACE_MS, listenForStop } from './lifecycle.js';
import type { RuntimeLog } from './log.js';

/** Environment variable marking a process as a gateway worker (./worker.ts refuses to run without it). */
export const WORKER_ENV = 'AMBROSIA_WORKER';
/** First restart delay after a crash, doubled per crash in a row. */
export const RESTART_BASE_MS = 100;
/** Longest restart delay. */
export const RESTART_MAX_MS = 10_000;
/** A worker that ran this long before crashing starts its backoff afresh. */
export const STABLE_AFTER_MS = 10_000;

export interface WorkerAssignment {
  index: number;
  id: string;
  servicePort: number;
  siblings: string[];
  config: AmbrosiaConfig;
}

/** Messages from a worker to the primary. */
export type WorkerMessage =
  | { type: 'hello' }
  | { type: 'ready'; id: string; pid: number; ports: { c2s: number; c2sTls: number; service: number } }
  | { type: 'start-failed'; message: string; exitCode: number };

interface Slot {
  index: number;
  id: string;
  servicePort: number;
  worker: Worker | undefined;
  /** Started successfully at least once: a later exit is a crash to recover from. */
  everReady: boolean;
  crashesInARow: number;
  startedAt: number;
  restartTimer: NodeJS.Timeout | undefined;
}

/** Service ports: `service + n - 1`, or with service 0 a free port per slot, kept across restarts. */
async function servicePorts(host: string, base: number, count: number): Promise<number[]> {
  if (base !== 0) {
    if (base + count - 1 > 65_535) throw new CliError(`gateway.ports.service ${base} + ${count} processes passes port 65535`, 2);
    return Array.from({ length: count }, (_, i) => base + i);
  }
  const ports: number[] = [];
  const held: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      held.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: 0, host, exclusive: true }, () => resolve());
      });
      ports.push((server.address() as { port: number }).port);
    }
  } finally {
    // Also when a listen failed: the ports already held are released before the error goes on.
    await Promise.all(held.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
  return ports;
}

export function restartDelay(crashesInARow: number): number {
  return Math.min(RESTART_BASE_MS * 2 ** Math.max(0, crashesInARow - 1), RESTART_MAX_MS);
}

/**
 * Runs the primary until the gateway stops; resolves the exit code: 0 after a graceful stop of
 * every worker, 1 when a worker failed its first start or had to be killed at the deadline.
 */
export async function runGatewayPrimary(options: { config: AmbrosiaConfig; log: RuntimeLog; id: string; processes: number }): Promise<number> {
  const { config, log, id, processes } = options;
  const logger = log.logger;
  const ports = await servicePorts(config.gateway.host, config.gateway.ports.service, processes);
  const slots: Slot[] = ports.map((servicePort, i) => ({
    index: i + 1,
    id: `${id}-${i + 1}`,
    servicePort,
    worker: undefined,
    everReady: false,
    crashesInARow: 0,
    startedAt: 0,
    restartTimer: undefined,
  }));
  const siblings = slots.map((s) => s.id);
  cluster.schedulingPolicy = cluster.SCHED_RR;
  cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker.js', import.meta.url)), args: [], silent: false });

  const stop = listenForStop(logger, () => {
    for (const slot of slots) slot.worker?.process.kill('SIGKILL');
    log.flush();
    process.exit(1);
  });
  let stopping = false;
  let failure: { message: string; exitCode: number } | undefined;
  let resolveFirstStart!: () => void;
  const firstStart = new Promise<void>((resolve) => (resolveFirstStart = resolve));
  let resolveAllExited!: () => void;
  const allExited = new Promise<void>((resolve) => (resolveAllExited = resolve));
  const checkAllExited = (): void => {
    if (slots.every((s) => s.worker === undefined)) resolveAllExited();
  };
  let killedAtDeadline = false;
  let uncleanExit = false;

  const fork = (slot: Slot): void => {
    const assignment: WorkerAssignment = { index: slot.index, id: slot.id, servicePort: slot.servicePort, siblings, config };
    // The assignment goes over IPC when the worker asks (it may miss a message sent before its
    // listener exists), so no environment size limit applies to the configuration.
    const worker = cluster.fork({ [WORKER_ENV]: '1' });
    slot.worker = worker;
    slot.startedAt = Date.now();
    worker.on('message', (message: WorkerMessage) => {
      if (message?.type === 'hello') {
        worker.send({ type: 'assignment', assignment });
      } else if (message?.type === 'ready') {
        slot.everReady = true;
        logger.info({ event: 'worker-ready', worker: slot.index, gateway: slot.id, workerPid: message.pid, c2s: message.ports.c2s, c2sTls: message.ports.c2sTls, service: message.ports.service });
        if (slots.every((s) => s.everReady)) resolveFirstStart();
      } else if (message?.type === 'start-failed' && !slot.everReady) {
        failure ??= { message: message.message, exitCode: message.exitCode };
      }
    });
    worker.on('exit', (code, signal) => {
      slot.worker = undefined;
      logger[stopping ? 'info' : 'warn']({ event: 'worker-exited', worker: slot.index, gateway: slot.id, workerPid: worker.process.pid, ...(code === null ? {} : { code }), ...(signal === null ? {} : { signal }) });
      if (stopping) {
        if (code !== 0) uncleanExit = true;
        checkAllExited();
        return;
      }
      if (!slot.everReady) {
        // A worker that never started has a problem a restart will not fix (port, TLS, registry).
        failure ??= { message: `worker ${slot.index} exited before it started (code ${code ?? signal})`, exitCode: 1 };
        resolveFirstStart();
        return;
      }
      const ranFor = Date.now() - slot.startedAt;
      slot.crashesInARow = ranFor >= STABLE_AFTER_MS ? 1 : slot.crashesInARow + 1;
      const delay = restartDelay(slot.crashesInARow);
      logger.warn({ event: 'worker-restarting', worker: slot.index, gateway: slot.id, delayMs: delay, crashesInARow: slot.crashesInARow });
      slot.restartTimer = setTimeout(() => {
        slot.restartTimer = undefined;
        if (!stopping) fork(slot);
      }, delay);
    });
  };

  logger.info({ event: 'gateway-primary-started', gateway: id, processes, host: config.gateway.host });
  for (const slot of slots) fork(slot);

  const stopAll = async (): Promise<void> => {
    stopping = true;
    for (const slot of slots) {
      if (slot.restartTimer !== undefined) clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
      try {
        slot.worker?.send({ type: 'stop' });
      } catch {
        slot.worker?.process.kill('SIGTERM'); // the IPC channel is gone; the signal does the same
      }
    }
    checkAllExited();
    const deadline = config.gateway.stopTimeoutMs + EXIT_GRACE_MS;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([allExited, new Promise<void>((resolve) => (timer = setTimeout(resolve, deadline)))]);
    clearTimeout(timer);
    for (const slot of slots) {
      if (slot.worker !== undefined) {
        killedAtDeadline = true;
        logger.error({ event: 'worker-killed-at-deadline', worker: slot.index, afterMs: deadline });
        slot.worker.process.kill('SIGKILL');
      }
    }
    if (killedAtDeadline) {
      let wait: NodeJS.Timeout | undefined;
      await Promise.race([allExited, new Promise<void>((resolve) => (wait = setTimeout(resolve, 2_000)))]);
      clearTimeout(wait);
    }
  };

  const reason = await Promise.race([stop.requested, firstStart.then(() => undefined)]);
  if (reason === undefined && failure !== undefined) {
    await stopAll();
    stop.dispose();
    throw new CliError(failure.message, failure.exitCode);
  }
  await stop.requested;
  logger.info({ event: 'gateway-primary-stopping', gateway: id });
  await stopAll();
  stop.dispose();
  logger.info({ event: 'gateway-primary-stopped', gateway: id, clean: !killedAtDeadline && !uncleanExit });
  return killedAtDeadline || uncleanExit ? 1 : 0;
}

// A gateway worker process (node:cluster runs this file). The primary hands it its slot and the
// validated configuration; it runs one Gateway and stops gracefully when the primary asks, when
// it gets SIGTERM/SIGINT itself, or when the primary is gone.
import { isCliError } from '../output.js';
import { WORKER_ENV, type WorkerAssignment, type WorkerMessage } from './cluster.js';
import { startGateway, type RunningGateway } from './gateway-process.js';
import { EXIT_GRACE_MS, exitDeadline, exitWhenIdle, listenForStop } from './lifecycle.js';
import { createRuntimeLog } from './log.js';

/** The primary sends the assignment at once; a worker that does not get it in time gives up. */
const ASSIGNMENT_TIMEOUT_MS = 10_000;

if (process.env[WORKER_ENV] === undefined || process.send === undefined) {
  process.stderr.write('ambrosia: this file is a gateway worker, started by `ambrosia gateway`\n');
  process.exit(2);
}
delete process.env[WORKER_ENV];
const assignment = await new Promise<WorkerAssignment>((resolve) => {
  const timer = setTimeout(() => {
    process.stderr.write('ambrosia: gateway worker: no assignment from the primary\n');
    process.exit(1);
  }, ASSIGNMENT_TIMEOUT_MS);
  const onMessage = (message: { type?: string; assignment?: WorkerAssignment }): void => {
    if (message?.type !== 'assignment' || message.assignment === undefined) return;
    clearTimeout(timer);
    process.off('message', onMessage);
    resolve(message.assignment);
  };
  process.on('message', onMessage);
  process.send!({ type: 'hello' } satisfies WorkerMessage);
});
const send = (message: WorkerMessage): void => {
  try {
    process.send?.(message);
  } catch {
    // the primary is gone; 'disconnect' stops us
  }
};

const log = createRuntimeLog({ config: assignment.config.log, role: 'gateway', bindings: { worker: assignment.index } });
const stop = listenForStop(log.logger);
process.on('message', (message: { type?: string }) => {
  if (message?.type === 'stop') stop.request('primary');
});
process.on('disconnect', () => stop.request('primary-gone'));

let running: RunningGateway;
try {
  running = await startGateway({ config: assignment.config, log, id: assignment.id, servicePort: assignment.servicePort, siblings: assignment.siblings });
} catch (error) {
  const message = isCliError(error) || error instanceof Error ? error.message : String(error);
  log.logger.error({ event: 'worker-start-failed', error: message });
  send({ type: 'start-failed', message, exitCode: isCliError(error) ? error.exitCode : 1 });
  log.flush();
  process.exit(1);
}
send({ type: 'ready', id: running.started.id, pid: process.pid, ports: running.started.ports });

await stop.requested;
exitDeadline(assignment.config.gateway.stopTimeoutMs + EXIT_GRACE_MS, log.logger, log.flush);
await running.stop();
log.logger.info({ event: 'worker-stopped', gateway: assignment.id });
stop.dispose();
process.disconnect?.();
exitWhenIdle(0, log.flush);

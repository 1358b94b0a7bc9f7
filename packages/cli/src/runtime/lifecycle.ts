// Signals and exit deadlines of the long-running roles. The first SIGTERM or SIGINT asks for a
// graceful stop; a second one, or the deadline, ends the process at once with exit code 1.
import type { Logger } from 'pino';

/** After the configured stop bound, this much more for the hub, the registry and the logs. */
export const EXIT_GRACE_MS = 5_000;
/** After a graceful stop, handles still open (a socket's linger) may keep the process this long at most. */
export const EXIT_LINGER_MS = 1_000;

export type StopReason = 'SIGTERM' | 'SIGINT' | 'primary' | 'primary-gone';

export interface StopSignal {
  /** Resolves with the first stop request. */
  readonly requested: Promise<StopReason>;
  /** Asks for a stop from elsewhere (the primary's message). */
  request(reason: StopReason): void;
  dispose(): void;
}

export function listenForStop(logger: Logger, onForced: () => void = () => process.exit(1)): StopSignal {
  let resolveRequested!: (reason: StopReason) => void;
  const requested = new Promise<StopReason>((resolve) => (resolveRequested = resolve));
  let count = 0;
  const request = (reason: StopReason): void => {
    count += 1;
    if (count === 1) {
      logger.info({ event: 'stop-requested', reason });
      resolveRequested(reason);
    } else if (reason === 'SIGTERM' || reason === 'SIGINT') {
      logger.warn({ event: 'stop-forced', reason });
      onForced();
    }
  };
  const onTerm = (): void => request('SIGTERM');
  const onInt = (): void => request('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  return {
    requested,
    request,
    dispose: () => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
    },
  };
}

/** Exits with code 1 if the graceful stop has not finished by then. */
export function exitDeadline(ms: number, logger: Logger, flush: () => void): NodeJS.Timeout {
  const timer = setTimeout(() => {
    logger.error({ event: 'stop-deadline', afterMs: ms });
    flush();
    process.exit(1);
  }, ms);
  timer.unref();
  return timer;
}

/** After a graceful stop: exit with `code` once the event loop is empty, or after EXIT_LINGER_MS. */
export function exitWhenIdle(code: number, flush: () => void): void {
  flush();
  process.exitCode = code;
  setTimeout(() => process.exit(code), EXIT_LINGER_MS).unref();
}

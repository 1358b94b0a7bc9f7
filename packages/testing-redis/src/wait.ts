/**
 * Polling with a deadline: the only way this package waits for Redis. Never a fixed sleep: a probe
 * runs until it reports success, with a short, growing interval, and fails with the last reason
 * once the deadline passes.
 */
import { TestingRedisError } from './errors.js';

/**
 * What a probe returns: `{ done: value }` on success, why the condition does not hold yet, or
 * `{ fail: error }` when waiting longer cannot help.
 */
export type ProbeResult<T> = { done: T } | { notYet: string } | { fail: Error };

export interface WaitOptions {
  timeoutMs: number;
  /** First pause between probes (ms); doubles up to `maxIntervalMs`. Default 10. */
  initialIntervalMs?: number;
  /** Default 200. */
  maxIntervalMs?: number;
  /** Stops waiting early with this error (e.g. the process being waited for exited). */
  abort?: () => Error | undefined;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs `probe` until it returns `{ done }`. A probe that throws counts as "not yet" (a server still
 * starting refuses connections); the last reason is in the timeout error's message.
 */
export async function waitFor<T>(what: string, probe: () => Promise<ProbeResult<T>>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let interval = options.initialIntervalMs ?? 10;
  const maxInterval = options.maxIntervalMs ?? 200;
  let lastReason = 'not probed yet';
  for (;;) {
    const aborted = options.abort?.();
    if (aborted) throw aborted;
    let result: ProbeResult<T> | undefined;
    try {
      result = await probe();
    } catch (error) {
      const abortedMeanwhile = options.abort?.();
      if (abortedMeanwhile) throw abortedMeanwhile;
      lastReason = describe(error);
    }
    if (result !== undefined) {
      if ('done' in result) return result.done;
      if ('fail' in result) throw result.fail;
      lastReason = result.notYet;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new TestingRedisError('ERR_REDIS_TIMEOUT', `timed out after ${options.timeoutMs} ms waiting for ${what}: ${lastReason}`);
    }
    await delay(Math.min(interval, remaining));
    interval = Math.min(interval * 2, maxInterval);
  }
}

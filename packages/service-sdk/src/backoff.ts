// Reconnection delays: capped exponential backoff with "equal jitter" (half fixed, half random),
// so a gateway that restarts is not hit by every service instance in the same millisecond.

export interface BackoffOptions {
  /** First delay; default 100 ms. */
  initialMs: number;
  /** Cap; default 10 000 ms. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({ initialMs: 100, maxMs: 10_000 });

/** Delay before attempt `attempt` (0-based), in [ceiling/2, ceiling]. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}

// Equal timing for every SASL answer: a response is released no earlier than a fixed minimum
// after the request arrived, so fast paths (a malformed guess, a cache hit, an unknown user)
// look like slow ones. Unknown users also run the full exchange against a decoy (RFC 5802 §9),
// so the work itself matches too; the floor covers what is left (store latency, scheduling).

import { AuthError } from './errors.js';
import { systemClock, type Clock } from './types.js';

/** Default floor for every SASL answer. */
export const DEFAULT_MIN_RESPONSE_MS = 50;

export interface ResponseTimer {
  /** Run `work`; resolve its result no earlier than the minimum after the call. */
  respond<T>(work: () => Promise<T>): Promise<T>;
  readonly minimumMs: number;
}

export function createResponseTimer(minimumMs: number = DEFAULT_MIN_RESPONSE_MS, clock: Clock = systemClock): ResponseTimer {
  if (!Number.isFinite(minimumMs) || minimumMs < 0 || minimumMs > 60_000) {
    throw new AuthError('ERR_AUTH_INVALID_OPTION', 'minimum response time must be within [0, 60000] ms');
  }
  return {
    minimumMs,
    async respond(work) {
      const deadline = clock.now() + minimumMs;
      let outcome: { ok: true; value: Awaited<ReturnType<typeof work>> } | { ok: false; error: unknown };
      try {
        outcome = { ok: true, value: await work() };
      } catch (error) {
        outcome = { ok: false, error };
      }
      const remaining = deadline - clock.now();
      if (remaining > 0) await clock.sleep(remaining);
      if (!outcome.ok) throw outcome.error;
      return outcome.value;
    },
  };
}

// The stanza-rate guard of one session: a loop between two entities, or a client flooding,
// turns into "slow down" and, if it does not, into "cut".
import { systemClock, type Clock } from './clock.js';
import { TokenBucket } from './token-bucket.js';
import { positive } from './validate.js';

export interface StanzaRateGuardOptions {
  /** Sustained stanzas per second (default 50). */
  readonly rate?: number;
  /** Stanzas allowed at once after a quiet period (default 100): a roster push or MAM page. */
  readonly burst?: number;
  /**
   * Stanzas beyond the allowance tolerated while the session is told to slow down (default 200).
   * The caller stops reading on `slow`, but stanzas already read keep arriving from the parser;
   * a session whose debt still grows past this is not slowing down.
   */
  readonly maxDebt?: number;
  readonly clock?: Clock;
}

/**
 * - `ok`: within the rate.
 * - `slow`: over the rate: handle the stanza, then stop reading for {@link StanzaRateGuard.retryAfterMs}.
 * - `cut`: the debt passed `maxDebt`: close the stream (`policy-violation`, RFC 6120 §4.9.3.14).
 */
export type StanzaVerdict = 'ok' | 'slow' | 'cut';

export const DEFAULT_STANZA_RATE = { rate: 50, burst: 100, maxDebt: 200 } as const;

export class StanzaRateGuard {
  readonly maxDebt: number;
  private readonly bucket: TokenBucket;
  private wait = 0;

  constructor(options: StanzaRateGuardOptions = {}) {
    this.bucket = new TokenBucket({ rate: options.rate ?? DEFAULT_STANZA_RATE.rate, burst: options.burst ?? DEFAULT_STANZA_RATE.burst, clock: options.clock ?? systemClock });
    this.maxDebt = positive('maxDebt', options.maxDebt ?? DEFAULT_STANZA_RATE.maxDebt);
  }

  /** Counts one stanza and judges the session. */
  check(): StanzaVerdict {
    this.wait = this.bucket.take(1);
    if (this.wait === 0) return 'ok';
    return -this.bucket.available > this.maxDebt ? 'cut' : 'slow';
  }

  /** After `slow`: how long to stop reading for the debt to be repaid. */
  get retryAfterMs(): number {
    return this.wait;
  }

  /** Stanzas owed (0 when within the rate). */
  get debt(): number {
    return Math.max(0, -this.bucket.available);
  }
}

// A token bucket: `rate` tokens per second flow into a bucket holding at most `burst`.
import { systemClock, type Clock } from './clock.js';
import { positive } from './validate.js';

export interface TokenBucketOptions {
  /** Tokens added per second (bytes/s for a byte shaper, stanzas/s for a stanza guard). */
  readonly rate: number;
  /** Capacity: the most that can be spent at once after a quiet period. */
  readonly burst: number;
  readonly clock?: Clock;
  /** Start with a full bucket (default true). */
  readonly startFull?: boolean;
}

export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  private readonly clock: Clock;
  /** May be negative: a debt left by take(), repaid by the refill before anything more is allowed. */
  private tokens: number;
  private last: number;

  constructor(options: TokenBucketOptions) {
    this.rate = positive('rate', options.rate);
    this.burst = positive('burst', options.burst);
    this.clock = options.clock ?? systemClock;
    this.tokens = options.startFull === false ? 0 : this.burst;
    this.last = this.clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    // A clock that steps back (wall time) adds nothing rather than removing tokens.
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
  }

  /** Tokens available now (negative while in debt). */
  get available(): number {
    this.refill();
    return this.tokens;
  }

  /**
   * Spends `n` tokens unconditionally — for work already done, such as bytes already read — and
   * returns the milliseconds until the balance is back to zero (0 when it did not go negative).
   * The debt is the caller's to honour by waiting; a caller that keeps taking without waiting
   * deepens it (the StanzaRateGuard bounds that with its `maxDebt`).
   */
  take(n = 1): number {
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }

  /** Spends `n` tokens only if all are available; never goes into debt. */
  tryTake(n = 1): boolean {
    this.refill();
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Milliseconds until `n` tokens are available (0 if they are; Infinity if n > burst). */
  waitTime(n = 0): number {
    this.refill();
    if (n > this.burst) return Infinity;
    return this.tokens >= n ? 0 : Math.ceil(((n - this.tokens) * 1000) / this.rate);
  }
}

// Events per key per window ("at most 20 new connections per IP per 10 s"), by a sliding window
// estimated from two fixed windows: count = previous·(1 − elapsed/window) + current. Two numbers
// per key instead of a timestamp per event, and no burst of 2×limit at a window boundary as a
// plain fixed window would allow.
import { systemClock, type Clock } from './clock.js';
import { positive, positiveInteger } from './validate.js';

export interface RateWindowOptions {
  /** Events allowed per key within any window-long span (approximately, see above). */
  readonly limit: number;
  readonly windowMs: number;
  /** Keys tracked at once (default 100 000). */
  readonly maxKeys?: number;
  /**
   * When `maxKeys` keys are all still active (hit within the last two windows) and a new key
   * arrives: `refuse` it (default, fail closed: a flood of sources cannot wipe the counts of
   * those already limited) or `evict-oldest`, dropping the least recently hit key's count
   * (fail open for that key, new sources keep getting in).
   */
  readonly whenFull?: 'refuse' | 'evict-oldest';
  readonly clock?: Clock;
}

export interface RateDecision {
  readonly allowed: boolean;
  /** Why not: the key's rate, or the table being full of active keys. */
  readonly reason?: 'rate' | 'table-full';
  /** The key's estimated count in the window ending now (after this event if allowed). */
  readonly count: number;
  /** When refused for the rate: milliseconds until one more event would be allowed. */
  readonly retryAfterMs: number;
}

interface Entry {
  /** Index of the fixed window `current` counts (floor(now / windowMs)). */
  window: number;
  current: number;
  previous: number;
}

const ALLOWED_EMPTY: RateDecision = Object.freeze({ allowed: true, count: 1, retryAfterMs: 0 });

export class RateWindow {
  readonly limit: number;
  readonly windowMs: number;
  readonly maxKeys: number;
  private readonly whenFull: 'refuse' | 'evict-oldest';
  private readonly clock: Clock;
  /** Insertion order = least recently hit first (every hit re-inserts its key at the end). */
  private readonly entries = new Map<string, Entry>();

  constructor(options: RateWindowOptions) {
    this.limit = positiveInteger('limit', options.limit);
    this.windowMs = positive('windowMs', options.windowMs);
    this.maxKeys = positiveInteger('maxKeys', options.maxKeys ?? 100_000);
    this.whenFull = options.whenFull ?? 'refuse';
    this.clock = options.clock ?? systemClock;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Rolls an entry forward to the window containing `now`. */
  private roll(entry: Entry, window: number): void {
    if (entry.window === window) return;
    entry.previous = entry.window === window - 1 ? entry.current : 0;
    entry.current = 0;
    entry.window = window;
  }

  private estimate(entry: Entry, now: number): number {
    const fraction = (now - entry.window * this.windowMs) / this.windowMs;
    return entry.previous * (1 - fraction) + entry.current;
  }

  /** Estimated events of `key` in the window ending now. */
  count(key: string): number {
    const entry = this.entries.get(key);
    if (entry === undefined) return 0;
    const now = this.clock.now();
    const window = Math.floor(now / this.windowMs);
    if (entry.window < window - 1) return 0;
    const probe = { ...entry };
    this.roll(probe, window);
    return this.estimate(probe, now);
  }

  /** Records one event for `key` if the key is under its limit; refused events are not counted. */
  hit(key: string): RateDecision {
    const now = this.clock.now();
    const window = Math.floor(now / this.windowMs);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      this.dropStale(window);
      if (this.entries.size >= this.maxKeys) {
        if (this.whenFull === 'refuse') return { allowed: false, reason: 'table-full', count: 0, retryAfterMs: 0 };
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
      this.entries.set(key, { window, current: 1, previous: 0 });
      return ALLOWED_EMPTY;
    }
    this.roll(entry, window);
    // Every hit, refused or not, moves the key to the most recently hit end: the map stays in
    // order of `window` (what dropStale relies on), and a source being refused keeps its count
    // rather than being the first evicted.
    this.entries.delete(key);
    this.entries.set(key, entry);
    const count = this.estimate(entry, now);
    if (count + 1 > this.limit) return { allowed: false, reason: 'rate', count, retryAfterMs: this.retryAfter(entry, now) };
    entry.current++;
    return { allowed: true, count: count + 1, retryAfterMs: 0 };
  }

  /** Forgets a key (an administrator lifting a limit, say). */
  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  /** Drops entries last hit two or more windows ago: they no longer count, so nothing is lost. */
  private dropStale(window: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.window >= window - 1) break; // least recently hit first: the rest are newer
      this.entries.delete(key);
    }
  }

  /**
   * Time until previous·(1 − f) + current ≤ limit − 1, in this window or the next one (where
   * this window's count becomes `previous`).
   */
  private retryAfter(entry: Entry, now: number): number {
    const allowance = this.limit - 1;
    const windowStart = entry.window * this.windowMs;
    const solve = (previous: number, current: number, start: number): number | undefined => {
      if (current > allowance) return undefined;
      const f = previous === 0 ? 0 : Math.max(0, 1 - (allowance - current) / previous);
      return f <= 1 ? start + f * this.windowMs : undefined;
    };
    const at = solve(entry.previous, entry.current, windowStart) ?? solve(entry.current, 0, windowStart + this.windowMs) ?? windowStart + 2 * this.windowMs;
    return Math.max(1, Math.ceil(at - now));
  }
}

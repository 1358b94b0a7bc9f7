// Time comes in through an interface so every limit can be driven by a test without sleeping.
// The shape is the one @ambrosia/stream uses, so a gateway can hand one clock to both.

export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds; only differences are used here, so any monotonic origin will do. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Monotonic time (`performance.now()`, immune to wall-clock jumps) and unref'd Node timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/**
 * A clock that moves only when told to. `advance(ms)` runs the timers falling due, in due order,
 * each seeing `now()` equal to its own due time.
 */
export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, { due: number; callback: () => void }>();

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { due: this.current + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }

  /** Timers scheduled and not yet run or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Milliseconds until the earliest pending timer, or undefined when none is pending. */
  get nextDueIn(): number | undefined {
    let earliest: number | undefined;
    for (const t of this.timers.values()) if (earliest === undefined || t.due < earliest) earliest = t.due;
    return earliest === undefined ? undefined : earliest - this.current;
  }

  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let nextId = -1;
      let next: { due: number; callback: () => void } | undefined;
      for (const [id, t] of this.timers) {
        if (t.due <= target && (next === undefined || t.due < next.due)) {
          next = t;
          nextId = id;
        }
      }
      if (next === undefined) break;
      this.timers.delete(nextId);
      this.current = next.due;
      next.callback();
    }
    this.current = target;
  }
}

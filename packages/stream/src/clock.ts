// Time comes in through an interface so every timeout of the state machine can be driven by a
// test without sleeping, and so one process-wide clock can be swapped for a coarser one later.

/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the Unix epoch (resumption expiry times are shared with other nodes). */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * Node's timers. They are unref'd: a stream's timers never keep a process alive on their own
 * (the listening sockets do).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

interface ManualTimer {
  readonly id: number;
  readonly due: number;
  readonly callback: () => void;
}

/**
 * A clock that only moves when told to, for tests (of this package and of the code above it).
 * `advance(ms)` runs every timer that falls due, in due order, each one seeing `now()` equal to
 * its own due time; timers scheduled by a callback run in the same advance if they fall due.
 */
export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, ManualTimer>();

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, due: this.current + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }

  /** Number of timers scheduled and not yet run or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const timer of this.timers.values()) {
        if (timer.due <= target && (next === undefined || timer.due < next.due || (timer.due === next.due && timer.id < next.id))) {
          next = timer;
        }
      }
      if (next === undefined) break;
      this.timers.delete(next.id);
      this.current = next.due;
      next.callback();
    }
    this.current = target;
  }
}

/**
 * One restartable timer slot. Holding a slot per purpose (rather than creating closures on every
 * reschedule) keeps per-session garbage low. The slot calls `fire(owner)`, a function shared by
 * every owner (a static method), so a slot costs no closure of its own; owners create slots on
 * first use, so a stream pays only for the timers it has started.
 */
export class TimerSlot<T> {
  private handle: TimerHandle | undefined = undefined;

  constructor(
    private readonly clock: Clock,
    private readonly owner: T,
    private readonly fire: (owner: T) => void,
  ) {}

  get active(): boolean {
    return this.handle !== undefined;
  }

  /** (Re)starts the timer to fire once after `ms`. */
  start(ms: number): void {
    this.cancel();
    this.handle = this.clock.setTimeout(() => {
      this.handle = undefined;
      this.fire(this.owner);
    }, ms);
  }

  /** Starts the timer only if it is not already running. */
  ensure(ms: number): void {
    if (this.handle === undefined) this.start(ms);
  }

  cancel(): void {
    if (this.handle !== undefined) {
      this.clock.clearTimeout(this.handle);
      this.handle = undefined;
    }
  }
}

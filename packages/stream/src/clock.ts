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

// The test clock is @ambrosia/edge-limits' one (same Clock shape): a gateway hands one ManualClock
// to its streams and its edge limits alike.
export { ManualClock } from '@ambrosia/edge-limits';

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

// Time as an injectable dependency, so lease expiry is testable without sleeping.

export interface Clock {
  /** ms since the epoch */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to (tests). */
export class ManualClock implements Clock {
  private current: number;

  constructor(start = 1_700_000_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('a clock only moves forward');
    this.current += ms;
  }

  set(ms: number): void {
    if (ms < this.current) throw new RangeError('a clock only moves forward');
    this.current = ms;
  }
}

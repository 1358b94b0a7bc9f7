// One timer for every pre-authentication deadline. All deadlines of an edge are "accept time +
// the same delay", so they expire in the order they were added: a FIFO queue whose head is the
// next to expire, with one timer armed for it. Adding and cancelling are O(1); a cancelled entry
// drops its item at once (so a finished connection is not kept alive) and its 3-field shell
// leaves the queue when its time comes.

export interface DeadlineEntry<T> {
  readonly at: number;
  item: T | undefined;
}

export class DeadlineQueue<T> {
  private entries: Array<DeadlineEntry<T>> = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  constructor(
    readonly delayMs: number,
    private readonly onExpire: (item: T) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Entries waiting (cancelled ones included until their time). */
  get size(): number {
    return this.entries.length - this.head;
  }

  add(item: T): DeadlineEntry<T> {
    const entry: DeadlineEntry<T> = { at: this.now() + this.delayMs, item };
    this.entries.push(entry);
    if (this.timer === undefined) this.arm();
    return entry;
  }

  cancel(entry: DeadlineEntry<T> | undefined): void {
    if (entry !== undefined) entry.item = undefined;
  }

  /** Stops the timer (the edge is gone); nothing expires any more. */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.entries = [];
    this.head = 0;
  }

  private arm(): void {
    // Cancelled entries at the head need no wake-up.
    while (this.head < this.entries.length && this.entries[this.head]!.item === undefined) this.head++;
    this.compact();
    const next = this.entries[this.head];
    if (next === undefined) return;
    this.armedFor = next.at;
    this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(next.at - this.now())));
    this.timer.unref();
  }

  private expire(): void {
    this.timer = undefined;
    const now = this.now();
    while (this.head < this.entries.length && this.entries[this.head]!.at <= now) {
      const entry = this.entries[this.head++]!;
      const item = entry.item;
      entry.item = undefined;
      if (item !== undefined) this.onExpire(item);
    }
    this.arm();
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

// Which stanza keys this instance has handled (docs/service-protocol.md §4.2, §10.5): a stanza
// handed over after a channel died carries the same `key` and is skipped if it was handled here.
// Bounded: the least recently handled keys are forgotten first.

export type KeyState = 'new' | 'pending' | 'done';

export class KeyMemory {
  /** Handled keys in least-recently-used order (Map keeps insertion order). */
  private readonly done = new Map<string, true>();
  /** Keys whose handler is queued or running, with the duplicates waiting for its outcome. */
  private readonly pending = new Map<string, ((handled: boolean) => void)[]>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.done.size;
  }

  /** Marks `key` pending if it is new; says what it was. */
  begin(key: string): KeyState {
    if (this.done.has(key)) {
      this.done.delete(key);
      this.done.set(key, true);
      return 'done';
    }
    if (this.pending.has(key)) return 'pending';
    this.pending.set(key, []);
    return 'new';
  }

  /**
   * Runs `callback` once the pending handler of `key` settles (`true`), or its stanza was
   * abandoned unhandled (`false`: the duplicate must then be handled itself).
   */
  afterSettled(key: string, callback: (handled: boolean) => void): void {
    const waiting = this.pending.get(key);
    if (waiting === undefined) callback(this.done.has(key));
    else waiting.push(callback);
  }

  /** The handler of `key` settled: remember it as handled and release the duplicates' acks. */
  settle(key: string): void {
    const waiting = this.pending.get(key);
    this.pending.delete(key);
    if (this.capacity > 0) {
      this.done.set(key, true);
      if (this.done.size > this.capacity) this.done.delete(this.done.keys().next().value as string);
    }
    for (const callback of waiting ?? []) callback(true);
  }

  /** The stanza was abandoned before its handler ran: it was not handled here. */
  forget(key: string): void {
    const waiting = this.pending.get(key);
    this.pending.delete(key);
    for (const callback of waiting ?? []) callback(false);
  }
}

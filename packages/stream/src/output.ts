// Output toward the client with explicit backpressure: while the transport says "wait", bytes are
// held here, counted, and bounded. What happens when the bound or the drain deadline is reached
// is the stream's decision (client-stream.ts); this class only keeps the books.

import type { StreamTransport } from './types.js';

export type WriteResult = 'sent' | 'queued' | 'overflow';

export class Output {
  /** Made when the transport first asks us to wait: most streams never need it. */
  private pending: Buffer[] | undefined = undefined;
  private pendingBytes = 0;
  private waiting = false;

  constructor(
    private readonly transport: StreamTransport,
    private readonly maxHeldBytes: number,
  ) {}

  /** True from a `write` that returned false until `drained()`. */
  get congested(): boolean {
    return this.waiting;
  }

  get heldBytes(): number {
    return this.pendingBytes;
  }

  /**
   * `sent`: handed to the transport; `queued`: held until the transport drains; `overflow`: not
   * taken, because holding it would exceed the bound.
   */
  write(data: string): WriteResult {
    const bytes = Buffer.from(data, 'utf8');
    if (!this.waiting) {
      if (!this.transport.write(bytes)) this.waiting = true;
      return 'sent';
    }
    if (this.pendingBytes + bytes.length > this.maxHeldBytes) return 'overflow';
    (this.pending ??= []).push(bytes);
    this.pendingBytes += bytes.length;
    return 'queued';
  }

  /** The transport drained: hand over everything held, in one write. */
  drained(): void {
    this.waiting = false;
    const pending = this.pending;
    if (pending === undefined) return;
    const bytes = pending.length === 1 ? pending[0]! : Buffer.concat(pending, this.pendingBytes);
    this.pending = undefined;
    this.pendingBytes = 0;
    if (!this.transport.write(bytes)) this.waiting = true;
  }

  /** Before a graceful close: whatever is held goes to the transport regardless of congestion. */
  flushForClose(): void {
    if (this.pending === undefined) return;
    const bytes = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = undefined;
    this.pendingBytes = 0;
    this.transport.write(bytes);
  }

  /** The transport is gone: drop what is held. */
  discard(): void {
    this.pending = undefined;
    this.pendingBytes = 0;
    this.waiting = false;
  }
}

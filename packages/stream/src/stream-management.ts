// XEP-0198 bookkeeping of one session: the inbound handled counter and the outbound queue of
// unacknowledged stanzas. It outlives a stream: on resumption it moves to the new stream.

import type { DeliveryOutcome } from './types.js';

/** XEP-0198 §4: 'h' is an unsigned 32-bit counter that wraps. */
const H_MODULUS = 2 ** 32;

export interface OutboundEntry {
  /** 1-based position in the outbound sequence (not wrapped). */
  readonly seq: number;
  /** The stanza as written, kept for retransmission after resumption. */
  readonly data: string;
  readonly onOutcome: ((outcome: DeliveryOutcome) => void) | undefined;
}

/** Identifies one inbound stanza until it is handled. */
export interface InboundTicket {
  readonly epoch: number;
  readonly seq: number;
}

export type AckResult = { ok: true; acked: OutboundEntry[] } | { ok: false; sendCount: number };

/** Parses an 'h' attribute: a decimal xs:unsignedInt (XEP-0198 §4, schema). */
export function parseH(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,10}$/.test(value)) return undefined;
  const h = Number(value);
  return h < H_MODULUS ? h : undefined;
}

export class SmSession {
  /** The SM-ID, only for resumable sessions (XEP-0198 §5). */
  readonly id: string | undefined;
  readonly resumeTimeoutMs: number;

  // Inbound: a stanza counts as handled only once its onStanza promise resolved, and only as an
  // in-order prefix: if stanza 5 resolves before 4, the count stays at 3 until 4 resolves.
  private epoch = 0;
  private received = 0;
  private handledTotal = 0;
  /** Resolved stanzas beyond the prefix; at most the number in flight. */
  private readonly resolvedAhead = new Set<number>();

  // Outbound: every stanza sent since <enable/>, until acknowledged.
  private queue: OutboundEntry[] = [];
  private head = 0;
  private sentTotal = 0;
  private ackedTotal = 0;

  /** Stanzas written since our last <r/>. */
  sinceRequest = 0;
  /** An <r/> is out and its <a/> has not come back. */
  requestOutstanding = false;

  constructor(id: string | undefined, resumeTimeoutMs: number) {
    this.id = id;
    this.resumeTimeoutMs = resumeTimeoutMs;
  }

  get resumable(): boolean {
    return this.id !== undefined;
  }

  /** The 'h' we report: client stanzas handled, modulo 2^32. */
  get handled(): number {
    return this.handledTotal % H_MODULUS;
  }

  /** Client stanzas received in this epoch (not wrapped). */
  get receivedCount(): number {
    return this.received;
  }

  /** Client stanzas handled (not wrapped). */
  get handledCount(): number {
    return this.handledTotal;
  }

  get sent(): number {
    return this.sentTotal % H_MODULUS;
  }

  get acked(): number {
    return this.ackedTotal % H_MODULUS;
  }

  get unacked(): number {
    return this.queue.length - this.head;
  }

  /** A client stanza arrived (XEP-0198 §4 counts <message/>, <presence/> and <iq/> only). */
  receive(): InboundTicket {
    return { epoch: this.epoch, seq: ++this.received };
  }

  markHandled(ticket: InboundTicket): void {
    if (ticket.epoch !== this.epoch || ticket.seq <= this.handledTotal) return;
    if (ticket.seq !== this.handledTotal + 1) {
      this.resolvedAhead.add(ticket.seq);
      return;
    }
    this.handledTotal++;
    while (this.resolvedAhead.delete(this.handledTotal + 1)) this.handledTotal++;
  }

  /**
   * On resumption the client resends everything after the 'h' we report, so stanzas still in
   * flight from the old stream must not count again when they resolve: a new epoch forgets them.
   */
  restartInbound(): void {
    this.epoch++;
    this.received = this.handledTotal;
    this.resolvedAhead.clear();
  }

  enqueue(data: string, onOutcome: ((outcome: DeliveryOutcome) => void) | undefined): OutboundEntry {
    const entry: OutboundEntry = { seq: ++this.sentTotal, data, onOutcome };
    this.queue.push(entry);
    return entry;
  }

  /**
   * The client's 'h' (XEP-0198 §4). Acknowledging more than was sent — or, with the counter's
   * wrap-around, fewer than already acknowledged — is an error (XEP-0198 §6).
   */
  ack(h: number): AckResult {
    const newlyAcked = (h - (this.ackedTotal % H_MODULUS) + H_MODULUS) % H_MODULUS;
    if (newlyAcked > this.unacked) return { ok: false, sendCount: this.sent };
    const acked = this.queue.slice(this.head, this.head + newlyAcked);
    this.head += newlyAcked;
    this.ackedTotal += newlyAcked;
    this.compact();
    return { ok: true, acked };
  }

  /** Would `ack(h)` succeed? */
  canAck(h: number): boolean {
    return (h - (this.ackedTotal % H_MODULUS) + H_MODULUS) % H_MODULUS <= this.unacked;
  }

  /** The unacknowledged entries, oldest first (for retransmission). */
  unackedEntries(): readonly OutboundEntry[] {
    return this.queue.slice(this.head);
  }

  /** Ends the books: every unacknowledged entry, for "undelivered" reports. */
  takeUnacked(): OutboundEntry[] {
    const rest = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    return rest;
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

// The sender side of sequenced messages (docs/service-protocol.md §7, §10, §11): lanes, fair
// round-robin chunking, id assignment at first write, the window of unacknowledged bytes,
// outstanding messages kept for retransmission, and the bounded send queue.
import type { MessageTypeCode } from './frame.js';
import { FLAG_FIRST, FLAG_LAST } from './frame.js';
import type { EncodedMessage, SequencedMessage } from './messages.js';

/** One message on its way: queued, being sent, or sent and awaiting its ack. */
export interface OutboundEntry {
  readonly message: SequencedMessage;
  readonly type: MessageTypeCode;
  readonly parts: readonly Buffer[];
  readonly size: number;
  readonly laneKey: string;
  /** Stanzas and session events are sent again on a new channel after a reset (§10.4). */
  readonly requeueOnReset: boolean;
  /** 0 until the first frame is written (§7.1). */
  id: number;
  /** Payload bytes written on the current link. */
  sentBytes: number;
  partIndex: number;
  partOffset: number;
  /** The last frame has been written on some link: an ack for it is now legitimate (§8.2). */
  everSent: boolean;
  acked: boolean;
  /** How many times its first frame has been written (more than once: retransmitted). */
  attempts: number;
  /** Settled exactly once, by ack or by failure. */
  settle: ((error: Error | undefined) => void) | undefined;
}

/** A fresh entry for `message` on `laneKey`: nothing written yet, no id (§7.1). */
export function newOutboundEntry(
  message: SequencedMessage,
  encoded: EncodedMessage,
  laneKey: string,
  requeueOnReset: boolean,
  settle: OutboundEntry['settle'],
): OutboundEntry {
  return {
    message,
    type: encoded.type,
    parts: encoded.parts,
    size: encoded.size,
    laneKey,
    requeueOnReset,
    id: 0,
    sentBytes: 0,
    partIndex: 0,
    partOffset: 0,
    everSent: false,
    acked: false,
    attempts: 0,
    settle,
  };
}

interface Lane {
  readonly key: string;
  queue: OutboundEntry[];
  head: number;
  current: OutboundEntry | undefined;
  nextReady: Lane | undefined;
  inReady: boolean;
  waiting: boolean;
}

export interface PeerSendLimits {
  chunkSize: number;
  maxMessageBytes: number;
  windowBytes: number;
  maxUnackedMessages: number;
  maxPartialMessages: number;
}

export interface QueueBounds {
  highWaterBytes: number;
  highWaterMessages: number;
  maxBytes: number;
  maxMessages: number;
}

export interface PumpSink {
  /** Writes one frame. Returns false when the transport is full (stop for now). */
  write(entry: OutboundEntry, flags: number, slices: readonly Buffer[], length: number): boolean;
  /** The entry's last frame was just written. */
  lastFrame(entry: OutboundEntry): void;
  /** The entry can never be sent: larger than the peer's maxMessageBytes (§11.1). Removed from the queue. */
  refuse(entry: OutboundEntry): void;
}

export class SendScheduler {
  private readonly lanes = new Map<string, Lane>();
  private readyHead: Lane | undefined = undefined;
  private readyTail: Lane | undefined = undefined;
  /** Lanes whose next new message does not fit the window: first come, first served (§7.3). */
  private windowWaiters: Lane[] = [];
  /** Lanes whose next multi-frame message waits for a partial slot. */
  private partialWaiters: Lane[] = [];

  /** Assigned, unacknowledged messages by id, in id order (Map keeps insertion order). */
  readonly outstanding = new Map<number, OutboundEntry>();
  outstandingBytes = 0;
  /** Outstanding messages whose last frame has been written at least once. */
  sentOutstanding = 0;
  lastAssignedId = 0;
  /** Multi-frame messages begun and not finished on the current link. */
  private partials = 0;

  queuedBytes = 0;
  queuedMessages = 0;
  private backpressured = false;

  constructor(
    private peer: PeerSendLimits,
    private readonly bounds: QueueBounds,
  ) {}

  setPeerLimits(peer: PeerSendLimits): void {
    this.peer = peer;
  }

  get peerLimits(): PeerSendLimits {
    return this.peer;
  }

  get laneCount(): number {
    return this.lanes.size;
  }

  get hasWork(): boolean {
    return this.readyHead !== undefined;
  }

  /** False once the queue passes its high-water mark, until it falls below half of it (§11.4). */
  get writable(): boolean {
    return !this.backpressured;
  }

  /** Why a new message cannot be queued, or undefined if it can (§11.4 hard limit). */
  refusal(size: number): string | undefined {
    if (this.queuedMessages + 1 > this.bounds.maxMessages) return `send queue holds ${this.queuedMessages} messages (limit ${this.bounds.maxMessages})`;
    if (this.queuedBytes + size > this.bounds.maxBytes) return `send queue holds ${this.queuedBytes} bytes (limit ${this.bounds.maxBytes})`;
    return undefined;
  }

  enqueue(entry: OutboundEntry): void {
    const lane = this.laneFor(entry.laneKey);
    lane.queue.push(entry);
    this.queuedBytes += entry.size;
    this.queuedMessages += 1;
    if (!this.backpressured && (this.queuedBytes >= this.bounds.highWaterBytes || this.queuedMessages >= this.bounds.highWaterMessages)) {
      this.backpressured = true;
    }
    if (!lane.inReady && !lane.waiting && lane.current === undefined) this.pushReady(lane);
  }

  /**
   * Writes chunks round-robin, one per lane per turn, until nothing can progress or `write`
   * returns false. Returns true if the queue just fell below its low-water mark (§11.4).
   */
  pump(sink: PumpSink): boolean {
    const chunkSize = this.peer.chunkSize;
    for (let lane = this.popReady(); lane !== undefined; lane = this.popReady()) {
      // A lane woken from a waiting list keeps its place ahead of lanes that never waited.
      const woken = lane.waiting;
      lane.waiting = false;
      let entry = lane.current;
      if (entry === undefined) {
        const head = this.peekLane(lane);
        if (head === undefined) {
          this.dropLaneIfIdle(lane);
          continue;
        }
        if (head.acked) {
          // Acknowledged through a resume record while waiting to be retransmitted (§10.2).
          lane.head++;
          this.compactLane(lane);
          this.requeueLane(lane);
          continue;
        }
        const multiFrame = head.size > chunkSize;
        const retransmission = head.id !== 0;
        if (!retransmission && head.size > this.peer.maxMessageBytes) {
          lane.head++;
          this.compactLane(lane);
          this.queuedBytes -= head.size;
          this.queuedMessages -= 1;
          sink.refuse(head);
          this.requeueLane(lane);
          continue;
        }
        if (!retransmission && ((!woken && this.windowWaiters.length > 0) || !this.fitsWindow(head))) {
          if (woken) this.windowWaiters.unshift(lane);
          else this.windowWaiters.push(lane);
          lane.waiting = true;
          continue;
        }
        if (multiFrame && (this.partials >= this.peer.maxPartialMessages || (!woken && this.partialWaiters.length > 0))) {
          if (woken) this.partialWaiters.unshift(lane);
          else this.partialWaiters.push(lane);
          lane.waiting = true;
          continue;
        }
        lane.head++;
        this.compactLane(lane);
        this.start(head, multiFrame);
        lane.current = head;
        entry = head;
      }
      const length = Math.min(chunkSize, entry.size - entry.sentBytes);
      const first = entry.sentBytes === 0;
      const last = entry.sentBytes + length === entry.size;
      const flags = (first ? FLAG_FIRST : 0) | (last ? FLAG_LAST : 0);
      const slices = this.takeSlices(entry, length);
      const more = sink.write(entry, flags, slices, length);
      if (last) {
        lane.current = undefined;
        if (!first) {
          this.partials -= 1;
          this.wakePartialWaiters();
        }
        if (!entry.everSent) {
          entry.everSent = true;
          if (!entry.acked) this.sentOutstanding += 1;
        }
        sink.lastFrame(entry);
      }
      this.requeueLane(lane);
      if (!more) break;
    }
    if (this.backpressured && this.queuedBytes < this.bounds.highWaterBytes / 2 && this.queuedMessages < this.bounds.highWaterMessages / 2) {
      this.backpressured = false;
      return true;
    }
    return false;
  }

  /** Marks an outstanding message acknowledged; returns it, or undefined if `id` is not outstanding. */
  acknowledge(id: number): OutboundEntry | undefined {
    const entry = this.outstanding.get(id);
    if (entry === undefined) return undefined;
    this.outstanding.delete(id);
    this.outstandingBytes -= entry.size;
    if (entry.everSent) this.sentOutstanding -= 1;
    entry.acked = true;
    return entry;
  }

  /** After acks: lanes waiting for window space start again, first come first served (§11.3). */
  wakeWindowWaiters(): void {
    let bytes = this.outstandingBytes;
    let count = this.outstanding.size;
    let woken = 0;
    while (woken < this.windowWaiters.length) {
      const lane = this.windowWaiters[woken]!;
      const head = this.peekLane(lane);
      if (head !== undefined && head.id === 0) {
        if (bytes + head.size > this.peer.windowBytes || count + 1 > this.peer.maxUnackedMessages) break;
        bytes += head.size;
        count += 1;
      }
      woken++;
    }
    if (woken === 0) return;
    const lanes = this.windowWaiters.splice(0, woken);
    this.pushReadyFront(lanes);
  }

  private wakePartialWaiters(): void {
    const free = this.peer.maxPartialMessages - this.partials;
    if (free <= 0 || this.partialWaiters.length === 0) return;
    const lanes = this.partialWaiters.splice(0, free);
    this.pushReadyFront(lanes);
  }

  /**
   * The link is gone (§10.1): partial sends are void; every outstanding message is put back at
   * the head of its lane, in id order, for retransmission with its id (§10.2).
   */
  resetForRetransmission(): void {
    this.partials = 0;
    const byLane = new Map<string, OutboundEntry[]>();
    for (const entry of this.outstanding.values()) {
      entry.sentBytes = 0;
      entry.partIndex = 0;
      entry.partOffset = 0;
      let list = byLane.get(entry.laneKey);
      if (list === undefined) byLane.set(entry.laneKey, (list = []));
      list.push(entry);
    }
    this.rebuild(byLane);
  }

  /**
   * The channel was replaced by a new one (§10.4): ids restart at 1. Entries that requeue on
   * reset go back to the head of their lanes as new messages; the others are returned, unsettled.
   */
  resetForNewChannel(): OutboundEntry[] {
    this.partials = 0;
    const dropped: OutboundEntry[] = [];
    const byLane = new Map<string, OutboundEntry[]>();
    for (const entry of this.outstanding.values()) {
      entry.sentBytes = 0;
      entry.partIndex = 0;
      entry.partOffset = 0;
      entry.everSent = false;
      entry.attempts = 0;
      if (!entry.requeueOnReset) {
        dropped.push(entry);
        continue;
      }
      entry.id = 0;
      this.queuedBytes += entry.size;
      this.queuedMessages += 1;
      let list = byLane.get(entry.laneKey);
      if (list === undefined) byLane.set(entry.laneKey, (list = []));
      list.push(entry);
    }
    this.outstanding.clear();
    this.outstandingBytes = 0;
    this.sentOutstanding = 0;
    this.lastAssignedId = 0;
    this.rebuild(byLane);
    return dropped;
  }

  /** Empties everything (channel over); returns outstanding then queued entries, in order. */
  drainAll(): OutboundEntry[] {
    const all: OutboundEntry[] = [...this.outstanding.values()];
    for (const lane of this.lanes.values()) {
      for (let index = lane.head; index < lane.queue.length; index++) {
        const entry = lane.queue[index]!;
        if (entry.id === 0) all.push(entry);
      }
    }
    this.outstanding.clear();
    this.lanes.clear();
    this.readyHead = this.readyTail = undefined;
    this.windowWaiters = [];
    this.partialWaiters = [];
    this.outstandingBytes = this.sentOutstanding = this.partials = this.queuedBytes = this.queuedMessages = 0;
    return all;
  }

  private rebuild(retransmit: Map<string, OutboundEntry[]>): void {
    const placed = new Set<OutboundEntry>();
    for (const entries of retransmit.values()) for (const entry of entries) placed.add(entry);
    this.readyHead = this.readyTail = undefined;
    this.windowWaiters = [];
    this.partialWaiters = [];
    for (const lane of this.lanes.values()) {
      lane.current = undefined;
      lane.inReady = false;
      lane.waiting = false;
      lane.nextReady = undefined;
      // Keep only new messages not placed again below (retransmissions are in `retransmit`).
      const pending = lane.queue.slice(lane.head).filter((entry) => entry.id === 0 && !placed.has(entry));
      lane.queue = pending;
      lane.head = 0;
    }
    for (const [key, entries] of retransmit) {
      const lane = this.laneFor(key);
      lane.queue = [...entries, ...lane.queue];
      lane.head = 0;
    }
    // Lanes with retransmissions first (lowest id first), then the others.
    for (const key of retransmit.keys()) this.pushReady(this.lanes.get(key)!);
    for (const lane of this.lanes.values()) {
      if (lane.inReady) continue;
      if (lane.queue.length > 0) this.pushReady(lane);
      else this.lanes.delete(lane.key);
    }
  }

  private fitsWindow(entry: OutboundEntry): boolean {
    return this.outstandingBytes + entry.size <= this.peer.windowBytes && this.outstanding.size + 1 <= this.peer.maxUnackedMessages;
  }

  private start(entry: OutboundEntry, multiFrame: boolean): void {
    if (entry.id === 0) {
      entry.id = ++this.lastAssignedId;
      this.outstanding.set(entry.id, entry);
      this.outstandingBytes += entry.size;
      this.queuedBytes -= entry.size;
      this.queuedMessages -= 1;
    }
    entry.sentBytes = 0;
    entry.partIndex = 0;
    entry.partOffset = 0;
    if (multiFrame) this.partials += 1;
  }

  /** The next `length` payload bytes of an entry as views of its parts (no copy). */
  private takeSlices(entry: OutboundEntry, length: number): readonly Buffer[] {
    entry.sentBytes += length;
    const parts = entry.parts;
    // Whole single-frame message: its parts as they are.
    if (entry.partIndex === 0 && entry.partOffset === 0 && entry.sentBytes === entry.size) {
      entry.partIndex = parts.length;
      return parts;
    }
    const slices: Buffer[] = [];
    let remaining = length;
    while (remaining > 0) {
      const part = parts[entry.partIndex]!;
      const available = part.length - entry.partOffset;
      const take = Math.min(available, remaining);
      slices.push(part.subarray(entry.partOffset, entry.partOffset + take));
      remaining -= take;
      if (take === available) {
        entry.partIndex++;
        entry.partOffset = 0;
      } else {
        entry.partOffset += take;
      }
    }
    return slices;
  }

  private laneFor(key: string): Lane {
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = { key, queue: [], head: 0, current: undefined, nextReady: undefined, inReady: false, waiting: false };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private peekLane(lane: Lane): OutboundEntry | undefined {
    return lane.queue[lane.head];
  }

  private compactLane(lane: Lane): void {
    if (lane.head > 1024 && lane.head * 2 > lane.queue.length) {
      lane.queue = lane.queue.slice(lane.head);
      lane.head = 0;
    }
  }

  private requeueLane(lane: Lane): void {
    if (lane.current !== undefined || lane.head < lane.queue.length) this.pushReady(lane);
    else this.dropLaneIfIdle(lane);
  }

  private dropLaneIfIdle(lane: Lane): void {
    if (lane.current === undefined && lane.head >= lane.queue.length && !lane.waiting) this.lanes.delete(lane.key);
  }

  private pushReady(lane: Lane): void {
    lane.inReady = true;
    lane.nextReady = undefined;
    if (this.readyTail === undefined) this.readyHead = lane;
    else this.readyTail.nextReady = lane;
    this.readyTail = lane;
  }

  private pushReadyFront(lanes: readonly Lane[]): void {
    for (let index = lanes.length - 1; index >= 0; index--) {
      const lane = lanes[index]!;
      if (lane.inReady) continue;
      lane.inReady = true;
      lane.nextReady = this.readyHead;
      this.readyHead = lane;
      if (this.readyTail === undefined) this.readyTail = lane;
    }
  }

  private popReady(): Lane | undefined {
    const lane = this.readyHead;
    if (lane === undefined) return undefined;
    this.readyHead = lane.nextReady;
    if (this.readyHead === undefined) this.readyTail = undefined;
    lane.nextReady = undefined;
    lane.inReady = false;
    return lane;
  }
}

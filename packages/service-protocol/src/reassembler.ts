// Reassembly of chunked messages on one link (docs/service-protocol.md §7.2): bounded in size
// per message, in number of concurrent partial messages, and in time.
import { type ChannelError, protocolError } from './errors.js';
import { FLAG_FIRST, FLAG_LAST, messageTypeName } from './frame.js';

interface Partial {
  readonly type: number;
  readonly id: number;
  /** Undefined when the message is a duplicate being read and thrown away (§10.3). */
  readonly chunks: Buffer[] | undefined;
  bytes: number;
  readonly startedAt: number;
}

export interface ReassemblyLimits {
  maxMessageBytes: number;
  maxPartialMessages: number;
}

export type ReassemblyResult =
  | { done: false }
  /** `duplicate`: the message was read and discarded; `body` is empty. */
  | { done: true; body: Buffer; duplicate: boolean };

const IN_PROGRESS: ReassemblyResult = Object.freeze({ done: false });
const EMPTY = Buffer.alloc(0);

export class Reassembler {
  /** By id, in order of first chunk (Map keeps insertion order): the first is the oldest. */
  private readonly partials = new Map<number, Partial>();
  /** Payload bytes buffered in non-duplicate partial messages. */
  bufferedBytes = 0;

  constructor(private limits: ReassemblyLimits) {}

  setLimits(limits: ReassemblyLimits): void {
    this.limits = limits;
  }

  get count(): number {
    return this.partials.size;
  }

  /** Non-duplicate partial messages (they count against the window, §11.2). */
  get heldMessages(): number {
    let held = 0;
    for (const partial of this.partials.values()) if (partial.chunks !== undefined) held++;
    return held;
  }

  has(id: number): boolean {
    return this.partials.has(id);
  }

  /**
   * One sequenced frame. `duplicate` says whether a FIRST frame's id is already in the received
   * set. Throws a ChannelError for every §7.2 violation. `now` is a coarse monotonic clock.
   */
  push(type: number, flags: number, id: number, payload: Buffer, duplicate: boolean, now: number): ReassemblyResult {
    const first = (flags & FLAG_FIRST) !== 0;
    const last = (flags & FLAG_LAST) !== 0;
    if (first) {
      if (this.partials.has(id)) throw protocolError('unexpected-chunk', `second first chunk for message ${id}`, id);
      if (payload.length === 0 && last) throw protocolError('malformed-message', `message ${id} is empty`, id);
      if (payload.length > this.limits.maxMessageBytes) {
        throw protocolError('message-too-large', `message ${id} exceeds ${this.limits.maxMessageBytes} bytes`, id);
      }
      if (last) return { done: true, body: duplicate ? EMPTY : payload, duplicate };
      if (this.partials.size >= this.limits.maxPartialMessages) {
        throw protocolError('too-many-partials', `more than ${this.limits.maxPartialMessages} messages in reassembly`, id);
      }
      this.partials.set(id, { type, id, chunks: duplicate ? undefined : [payload], bytes: payload.length, startedAt: now });
      if (!duplicate) this.bufferedBytes += payload.length;
      return IN_PROGRESS;
    }
    const partial = this.partials.get(id);
    if (partial === undefined) throw protocolError('unexpected-chunk', `chunk for message ${id}, which is not being reassembled`, id);
    if (partial.type !== type) {
      throw protocolError('unexpected-chunk', `chunk of type ${messageTypeName(type)} for ${messageTypeName(partial.type)} message ${id}`, id);
    }
    partial.bytes += payload.length;
    if (partial.bytes > this.limits.maxMessageBytes) {
      throw protocolError('message-too-large', `message ${id} exceeds ${this.limits.maxMessageBytes} bytes`, id);
    }
    if (partial.chunks !== undefined) {
      partial.chunks.push(payload);
      this.bufferedBytes += payload.length;
    }
    if (!last) return IN_PROGRESS;
    this.partials.delete(id);
    if (partial.chunks === undefined) return { done: true, body: EMPTY, duplicate: true };
    this.bufferedBytes -= partial.bytes;
    // The one copy of a chunked message: its chunks into one buffer.
    return { done: true, body: Buffer.concat(partial.chunks, partial.bytes), duplicate: false };
  }

  /** A violation if the oldest partial message started `timeoutMs` or more before `now`. */
  expired(now: number, timeoutMs: number): ChannelError | undefined {
    for (const partial of this.partials.values()) {
      if (now - partial.startedAt >= timeoutMs) {
        return protocolError('reassembly-timeout', `message ${partial.id} unfinished after ${timeoutMs} ms (${partial.bytes} bytes so far)`, partial.id);
      }
      return undefined;
    }
    return undefined;
  }

  /** The link is gone: partial messages are void (§7.2). Returns what non-duplicates held. */
  clear(): { messages: number; bytes: number } {
    const held = { messages: this.heldMessages, bytes: this.bufferedBytes };
    this.partials.clear();
    this.bufferedBytes = 0;
    return held;
  }
}

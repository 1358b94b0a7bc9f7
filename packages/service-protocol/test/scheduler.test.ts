// The sender's scheduler on its own (docs/service-protocol.md §7.3, §10.2, §11): what it writes,
// in what order, and when it holds back.
import { describe, expect, it } from 'vitest';
import { FLAG_FIRST, FLAG_LAST, MessageType, type SequencedMessage } from '../src/index.js';
import { type OutboundEntry, type PeerSendLimits, SendScheduler, newOutboundEntry } from '../src/scheduler.js';

const MESSAGE: SequencedMessage = { kind: 'session-event', event: 'bound', gateway: 'g', session: 's', jid: 'a@b/c' };

function entry(lane: string, size: number, label = lane): OutboundEntry & { label: string } {
  return { ...newOutboundEntry(MESSAGE, { type: MessageType.STANZA, parts: [Buffer.alloc(size)], size }, lane, true, undefined), label };
}

const PEER: PeerSendLimits = { chunkSize: 100, maxMessageBytes: 10_000, windowBytes: 100_000, maxUnackedMessages: 1000, maxPartialMessages: 100 };
const BOUNDS = { highWaterBytes: 1_000_000, highWaterMessages: 1000, maxBytes: 2_000_000, maxMessages: 2000 };

/** Pumps everything; returns "label:flags" per frame written. */
function drain(scheduler: SendScheduler, budget = Number.POSITIVE_INFINITY): string[] {
  const written: string[] = [];
  let frames = 0;
  scheduler.pump({
    write: (written_entry, flags) => {
      const flagText = (flags & FLAG_FIRST ? 'F' : '') + (flags & FLAG_LAST ? 'L' : '') || '-';
      written.push(`${(written_entry as OutboundEntry & { label: string }).label}#${written_entry.id}:${flagText}`);
      return ++frames < budget;
    },
    lastFrame: () => {},
    refuse: () => {},
  });
  return written;
}

describe('SendScheduler', () => {
  it('interleaves one chunk per lane per turn and assigns ids at first write (§7.1, §7.3)', () => {
    const scheduler = new SendScheduler(PEER, BOUNDS);
    scheduler.enqueue(entry('big', 350));
    scheduler.enqueue(entry('a', 50));
    scheduler.enqueue(entry('b', 50));
    scheduler.enqueue(entry('a', 50, 'a2'));
    expect(drain(scheduler)).toEqual(['big#1:F', 'a#2:FL', 'b#3:FL', 'big#1:-', 'a2#4:FL', 'big#1:-', 'big#1:L']);
  });

  it('stops when the transport is full and continues where it left off', () => {
    const scheduler = new SendScheduler(PEER, BOUNDS);
    scheduler.enqueue(entry('big', 250));
    scheduler.enqueue(entry('a', 10));
    expect(drain(scheduler, 2)).toEqual(['big#1:F', 'a#2:FL']);
    expect(drain(scheduler)).toEqual(['big#1:-', 'big#1:L']);
  });

  it('admits new messages first come, first served when the window is full (§11.3)', () => {
    const scheduler = new SendScheduler({ ...PEER, windowBytes: 1000 }, BOUNDS);
    scheduler.enqueue(entry('a', 600));
    expect(drain(scheduler)).toHaveLength(6);
    scheduler.enqueue(entry('b', 500)); // does not fit: waits
    scheduler.enqueue(entry('c', 10)); // would fit, but must not overtake b
    expect(drain(scheduler)).toEqual([]);
    scheduler.acknowledge(1);
    scheduler.wakeWindowWaiters();
    expect(drain(scheduler).map((frame) => frame.split('#')[0])).toEqual(['b', 'c', 'b', 'b', 'b', 'b']);
  });

  it('keeps multi-frame messages within the partial limit without holding back single frames', () => {
    const scheduler = new SendScheduler({ ...PEER, maxPartialMessages: 1 }, BOUNDS);
    scheduler.enqueue(entry('x', 200));
    scheduler.enqueue(entry('y', 200));
    scheduler.enqueue(entry('z', 50));
    expect(drain(scheduler)).toEqual(['x#1:F', 'z#2:FL', 'x#1:L', 'y#3:F', 'y#3:L']);
  });

  it('signals backpressure at the high-water mark and refuses past the hard limit (§11.4)', () => {
    const scheduler = new SendScheduler({ ...PEER, windowBytes: 100 }, { highWaterBytes: 300, highWaterMessages: 100, maxBytes: 500, maxMessages: 100 });
    for (let n = 0; n < 4; n++) scheduler.enqueue(entry(`l${n}`, 100));
    expect(scheduler.writable).toBe(false);
    expect(scheduler.refusal(100)).toBeUndefined();
    scheduler.enqueue(entry('l4', 100));
    expect(scheduler.refusal(1)).toMatch(/limit 500/);
    // Only one fits the window; the queue stays above half the high-water mark.
    expect(drain(scheduler)).toEqual(['l0#1:FL']);
    expect(scheduler.writable).toBe(false);
  });

  it('retransmits outstanding messages with their ids, in lane order, before new ones (§10.2)', () => {
    const scheduler = new SendScheduler(PEER, BOUNDS);
    scheduler.enqueue(entry('a', 50, 'a1'));
    scheduler.enqueue(entry('a', 250, 'a2'));
    scheduler.enqueue(entry('b', 50, 'b1'));
    expect(drain(scheduler, 4)).toEqual(['a1#1:FL', 'b1#2:FL', 'a2#3:F', 'a2#3:-']);
    scheduler.enqueue(entry('a', 50, 'a3'));
    scheduler.acknowledge(2);
    scheduler.resetForRetransmission();
    // b1 was acked; a1 and a2 go again whole with their ids, then a3 gets the next id.
    expect(drain(scheduler)).toEqual(['a1#1:FL', 'a2#3:F', 'a2#3:-', 'a2#3:L', 'a3#4:FL']);
  });

  it('after a reset, requeues unacknowledged messages as new ones with ids from 1 (§10.4)', () => {
    const scheduler = new SendScheduler(PEER, BOUNDS);
    scheduler.enqueue(entry('a', 50, 'a1'));
    scheduler.enqueue(entry('a', 50, 'a2'));
    const reply = { ...entry('r', 50, 'reply'), requeueOnReset: false };
    scheduler.enqueue(reply);
    expect(drain(scheduler)).toEqual(['a1#1:FL', 'reply#2:FL', 'a2#3:FL']);
    scheduler.acknowledge(1);
    const dropped = scheduler.resetForNewChannel();
    expect(dropped.map((dropped_entry) => (dropped_entry as OutboundEntry & { label: string }).label)).toEqual(['reply']);
    expect(drain(scheduler)).toEqual(['a2#1:FL']);
  });

  it('refuses a message larger than the peer accepts when it reaches the head of its lane', () => {
    const scheduler = new SendScheduler({ ...PEER, maxMessageBytes: 100 }, BOUNDS);
    const refused: OutboundEntry[] = [];
    scheduler.enqueue(entry('a', 101));
    scheduler.enqueue(entry('a', 10, 'ok'));
    const written: string[] = [];
    scheduler.pump({ write: (e) => (written.push((e as OutboundEntry & { label: string }).label), true), lastFrame: () => {}, refuse: (e) => refused.push(e) });
    expect(refused).toHaveLength(1);
    expect(written).toEqual(['ok']);
    expect(scheduler.queuedMessages).toBe(0);
  });
});

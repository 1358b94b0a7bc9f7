// The pure pieces on their own: XEP-0198 counters (with a property test of the in-order rule and
// the 2^32 wrap), configuration validation, and the manual clock.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock, resolveConfig } from '../src/index.js';
import { SmSession, parseH } from '../src/stream-management.js';

describe('SmSession inbound count', () => {
  it('is the longest prefix of handled stanzas, whatever the order they resolve in', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }).chain((n) => fc.tuple(fc.constant(n), fc.shuffledSubarray([...Array(n).keys()], { minLength: 0, maxLength: n }))), ([n, order]) => {
        const sm = new SmSession(undefined, 1000);
        const tickets = Array.from({ length: n }, () => sm.receive());
        const resolved = new Set<number>();
        for (const index of order) {
          sm.markHandled(tickets[index]!);
          resolved.add(index);
          let prefix = 0;
          while (resolved.has(prefix)) prefix++;
          expect(sm.handled).toBe(prefix);
        }
      }),
    );
  });

  it('ignores resolutions from before a resumption (new epoch) and duplicates', () => {
    const sm = new SmSession('id', 1000);
    const [a, b, c] = [sm.receive(), sm.receive(), sm.receive()];
    sm.markHandled(a);
    sm.markHandled(a);
    sm.markHandled(c);
    expect(sm.handled).toBe(1);
    sm.restartInbound();
    sm.markHandled(b);
    expect(sm.handled).toBe(1);
    const again = sm.receive();
    expect(again.seq).toBe(2);
    sm.markHandled(again);
    expect(sm.handled).toBe(2);
  });
});

describe('SmSession outbound queue', () => {
  it('acknowledges by h, refuses too high an h, and wraps at 2^32', () => {
    const sm = new SmSession(undefined, 1000);
    for (let i = 0; i < 3; i++) sm.enqueue(`s${i}`, undefined);
    expect(sm.ack(4)).toEqual({ ok: false, sendCount: 3 });
    const first = sm.ack(2);
    expect(first.ok && first.acked.map((e) => e.data)).toEqual(['s0', 's1']);
    expect(sm.unacked).toBe(1);
    // An h lower than the one already acknowledged is, modulo 2^32, far too high.
    expect(sm.canAck(1)).toBe(false);
    expect(sm.ack(2)).toEqual({ ok: true, acked: [] });

    const wrapping = new SmSession(undefined, 1000);
    (wrapping as unknown as { sentTotal: number; ackedTotal: number }).sentTotal = 2 ** 32 - 1;
    (wrapping as unknown as { sentTotal: number; ackedTotal: number }).ackedTotal = 2 ** 32 - 1;
    wrapping.enqueue('a', undefined);
    wrapping.enqueue('b', undefined);
    expect(wrapping.sent).toBe(1);
    const wrapped = wrapping.ack(1);
    expect(wrapped.ok && wrapped.acked.map((e) => e.data)).toEqual(['a', 'b']);
  });

  it('keeps memory proportional to what is unacknowledged', () => {
    const sm = new SmSession(undefined, 1000);
    for (let i = 0; i < 5000; i++) {
      sm.enqueue('x', undefined);
      if (i % 2 === 1) sm.ack((i + 1) % 2 ** 32);
    }
    expect(sm.unacked).toBe(0);
    expect((sm as unknown as { queue: unknown[] }).queue.length).toBe(0);
  });

  it('parses h as a decimal unsigned 32-bit integer', () => {
    expect(parseH('0')).toBe(0);
    expect(parseH('4294967295')).toBe(4294967295);
    for (const bad of [undefined, '', '-1', '4294967296', '1e3', ' 1', '0x10', '12345678901']) expect(parseH(bad)).toBeUndefined();
  });
});

describe('configuration', () => {
  it('has documented defaults and validates overrides', () => {
    const config = resolveConfig();
    expect(config).toMatchObject({
      requireTls: true,
      negotiationTimeoutMs: 60_000,
      idleTimeoutMs: 300_000,
      pingTimeoutMs: 30_000,
      maxHeldInputBytes: 65_536,
      maxInflightStanzas: 128,
      maxSendBufferBytes: 1_048_576,
      drainTimeoutMs: 60_000,
      maxNegotiationFailures: 5,
      sm: { enabled: true, allowResume: true, resumeTimeoutMs: 300_000, maxUnackedStanzas: 1000, ackRequestEvery: 5, ackRequestDelayMs: 10_000, maxAckDelayMs: 5000 },
    });
    expect(config.preAuthLimits.maxStanzaBytes).toBe(8192);
    expect(config.limits.maxStanzaBytes).toBe(262_144);
    expect(resolveConfig({ idleTimeoutMs: undefined, sm: { maxUnackedStanzas: 10 } }).sm.maxUnackedStanzas).toBe(10);
    expect(() => resolveConfig({ idleTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => resolveConfig({ sm: { resumeTimeoutMs: 2 ** 31 } })).toThrow(RangeError);
    expect(() => resolveConfig({ lang: 'not a tag' })).toThrow(RangeError);
  });
});

describe('ManualClock', () => {
  it('runs timers in due order, including ones scheduled while advancing', () => {
    const clock = new ManualClock(100);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 20);
    const cancelled = clock.setTimeout(() => seen.push('never'), 5);
    clock.setTimeout(() => {
      seen.push(`a@${clock.now()}`);
      clock.setTimeout(() => seen.push(`c@${clock.now()}`), 5);
    }, 10);
    clock.clearTimeout(cancelled);
    clock.advance(30);
    expect(seen).toEqual(['a@110', 'c@115', 'b@120']);
    expect(clock.now()).toBe(130);
    expect(clock.pending).toBe(0);
  });
});

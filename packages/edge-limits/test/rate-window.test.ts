import { describe, expect, it } from 'vitest';
import { ManualClock, RateWindow } from '../src/index.js';

describe('RateWindow', () => {
  it('allows `limit` events per window and refuses the next, without counting refusals', () => {
    const clock = new ManualClock();
    const rate = new RateWindow({ limit: 3, windowMs: 1000, clock });
    expect([1, 2, 3].map(() => rate.hit('ip').allowed)).toEqual([true, true, true]);
    const refused = rate.hit('ip');
    expect(refused).toMatchObject({ allowed: false, reason: 'rate', count: 3 });
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(rate.count('ip')).toBe(3); // the refusal did not count
    expect(rate.hit('other').allowed).toBe(true);
  });

  it('slides: the previous window weighs in proportion to how much of it is still inside', () => {
    const clock = new ManualClock();
    const rate = new RateWindow({ limit: 10, windowMs: 1000, clock });
    for (let i = 0; i < 10; i++) expect(rate.hit('ip').allowed).toBe(true);
    clock.advance(1000); // start of the next window: the previous 10 count fully
    expect(rate.hit('ip').allowed).toBe(false);
    clock.advance(500); // half of them still inside: 5
    expect(rate.count('ip')).toBe(5);
    for (let i = 0; i < 5; i++) expect(rate.hit('ip').allowed).toBe(true); // 5 + 5 = 10 = limit
    expect(rate.hit('ip').allowed).toBe(false);
  });

  it('no double burst at a window boundary (a plain fixed window would allow 2×limit)', () => {
    const clock = new ManualClock();
    const rate = new RateWindow({ limit: 10, windowMs: 1000, clock });
    clock.advance(999);
    let allowed = 0;
    for (let i = 0; i < 10; i++) allowed += rate.hit('ip').allowed ? 1 : 0;
    clock.advance(2); // into the next window
    for (let i = 0; i < 10; i++) allowed += rate.hit('ip').allowed ? 1 : 0;
    expect(allowed).toBe(10);
  });

  it('retryAfterMs is exactly when the next event is allowed', () => {
    const clock = new ManualClock();
    const rate = new RateWindow({ limit: 4, windowMs: 1000, clock });
    for (let step = 0; step < 50; step++) {
      const d = rate.hit('ip');
      if (d.allowed) {
        clock.advance(37);
        continue;
      }
      clock.advance(d.retryAfterMs - 1);
      expect(rate.hit('ip').allowed).toBe(false);
      clock.advance(1);
      expect(rate.hit('ip').allowed).toBe(true);
    }
  });

  it('a key silent for two windows is forgotten', () => {
    const clock = new ManualClock();
    const rate = new RateWindow({ limit: 1, windowMs: 1000, clock });
    rate.hit('ip');
    clock.advance(2000);
    expect(rate.count('ip')).toBe(0);
    expect(rate.hit('ip').allowed).toBe(true);
  });

  it('bounded map: stale keys are dropped to make room; when all are active, new keys are refused', () => {
    const clock = new ManualClock();
    const rate = new RateWindow({ limit: 5, windowMs: 1000, maxKeys: 3, clock });
    for (const k of ['a', 'b', 'c']) rate.hit(k);
    expect(rate.hit('d')).toMatchObject({ allowed: false, reason: 'table-full' });
    expect(rate.hit('a').allowed).toBe(true); // known keys go on
    clock.advance(2500); // a, b, c are stale now
    expect(rate.hit('d').allowed).toBe(true);
    expect(rate.size).toBe(1);
  });

  it('bounded map with evict-oldest: the least recently hit key loses its count', () => {
    const clock = new ManualClock();
    const rate = new RateWindow({ limit: 2, windowMs: 1000, maxKeys: 2, whenFull: 'evict-oldest', clock });
    rate.hit('a');
    rate.hit('a');
    rate.hit('b');
    expect(rate.hit('a').allowed).toBe(false); // refused, but a hit: a is now the most recent
    expect(rate.hit('c').allowed).toBe(true); // evicts b
    expect(rate.size).toBe(2);
    expect(rate.count('b')).toBe(0);
    expect(rate.count('a')).toBe(2); // a source being refused keeps its count
  });

  it('refused hits keep the table in window order, so stale keys are still dropped', () => {
    const clock = new ManualClock();
    const rate = new RateWindow({ limit: 1, windowMs: 1000, maxKeys: 2, clock });
    rate.hit('a');
    rate.hit('b');
    clock.advance(1500);
    expect(rate.hit('a').allowed).toBe(false); // refused (half of the previous window still counts), rolled into window 1
    clock.advance(1000); // b is stale now (last hit two windows ago), a is not
    // If a had stayed at the head, the stale b behind it would never be reached.
    expect(rate.hit('c').allowed).toBe(true);
    expect(rate.count('b')).toBe(0);
    expect(rate.size).toBe(2);
  });

  it('holds at most maxKeys under a flood of distinct keys', () => {
    const clock = new ManualClock();
    const rate = new RateWindow({ limit: 5, windowMs: 1000, maxKeys: 1000, clock });
    for (let i = 0; i < 50_000; i++) {
      rate.hit(`k${i}`);
      if (i % 100 === 0) clock.advance(10);
      expect(rate.size).toBeLessThanOrEqual(1000);
    }
  });

  it('validates its options', () => {
    expect(() => new RateWindow({ limit: 0, windowMs: 1000 })).toThrow(RangeError);
    expect(() => new RateWindow({ limit: 1, windowMs: 0 })).toThrow(RangeError);
  });
});

import { describe, expect, it } from 'vitest';
import { ManualClock, TokenBucket } from '../src/index.js';

describe('TokenBucket', () => {
  it('allows a burst, then the rate', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 10, burst: 5, clock });
    for (let i = 0; i < 5; i++) expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
    clock.advance(100); // one token
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
    clock.advance(10_000); // refills to the burst, not beyond
    expect(bucket.available).toBe(5);
  });

  it('take() goes into debt and says how long to wait', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 1000, burst: 100, clock });
    expect(bucket.take(60)).toBe(0);
    expect(bucket.take(90)).toBe(50); // 50 tokens owed at 1000/s
    expect(bucket.available).toBe(-50);
    expect(bucket.waitTime()).toBe(50);
    clock.advance(50);
    expect(bucket.waitTime()).toBe(0);
    expect(bucket.waitTime(100)).toBe(100);
    expect(bucket.waitTime(101)).toBe(Infinity);
  });

  it('a chunk larger than the burst is still accepted, as debt', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 100, burst: 10, clock });
    expect(bucket.take(1000)).toBe(9900);
  });

  it('can start empty', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ rate: 10, burst: 5, clock, startFull: false });
    expect(bucket.tryTake()).toBe(false);
    clock.advance(100);
    expect(bucket.tryTake()).toBe(true);
  });

  it('ignores a clock stepping back', () => {
    let now = 1000;
    const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
    const bucket = new TokenBucket({ rate: 10, burst: 5, clock });
    bucket.take(5);
    now = 0;
    expect(bucket.available).toBe(0);
    now = 100;
    expect(bucket.available).toBe(1);
  });

  it.each([
    [{ rate: 0, burst: 1 }],
    [{ rate: 1, burst: -1 }],
    [{ rate: Number.NaN, burst: 1 }],
    [{ rate: Infinity, burst: 1 }],
  ])('refuses %o', (options) => {
    expect(() => new TokenBucket(options)).toThrow(RangeError);
  });
});

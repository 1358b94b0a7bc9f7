import { describe, expect, it } from 'vitest';
import { PerKeyLimiter, type AcquireResult, type Lease } from '../src/index.js';

const lease = (r: AcquireResult): Lease => {
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r.lease;
};

describe('PerKeyLimiter', () => {
  it('caps concurrent leases per key and gives slots back on release', () => {
    const limiter = new PerKeyLimiter({ maxPerKey: 2 });
    const a = lease(limiter.acquire('198.51.100.1'));
    const b = lease(limiter.acquire('198.51.100.1'));
    expect(limiter.acquire('198.51.100.1')).toEqual({ ok: false, reason: 'key-limit', count: 2 });
    expect(limiter.acquire('198.51.100.2').ok).toBe(true); // other keys are unaffected
    a.release();
    expect(limiter.count('198.51.100.1')).toBe(1);
    expect(limiter.acquire('198.51.100.1').ok).toBe(true);
    b.release();
  });

  it('release is idempotent: a double release never frees a slot held by someone else', () => {
    const limiter = new PerKeyLimiter({ maxPerKey: 2 });
    const a = lease(limiter.acquire('k'));
    lease(limiter.acquire('k'));
    a.release();
    a.release();
    expect(limiter.count('k')).toBe(1);
  });

  it('holds only keys with live leases', () => {
    const limiter = new PerKeyLimiter({ maxPerKey: 3 });
    const leases = Array.from({ length: 100 }, (_, i) => lease(limiter.acquire(`k${i}`)));
    expect(limiter.size).toBe(100);
    for (const l of leases) l.release();
    expect(limiter.size).toBe(0);
  });

  it('when full, refuses new keys (fail closed) and keeps serving known keys within their cap', () => {
    const limiter = new PerKeyLimiter({ maxPerKey: 2, maxKeys: 3 });
    const held = ['a', 'b', 'c'].map((k) => lease(limiter.acquire(k)));
    expect(limiter.acquire('d')).toEqual({ ok: false, reason: 'table-full', count: 0 });
    expect(limiter.acquire('a').ok).toBe(true);
    expect(limiter.acquire('a')).toMatchObject({ ok: false, reason: 'key-limit' });
    held[1]!.release(); // b leaves the table: room for a new key
    expect(limiter.acquire('d').ok).toBe(true);
    expect(limiter.size).toBe(3);
  });

  it('validates its options', () => {
    expect(() => new PerKeyLimiter({ maxPerKey: 0 })).toThrow(RangeError);
    expect(() => new PerKeyLimiter({ maxPerKey: 1, maxKeys: 1.5 })).toThrow(RangeError);
  });
});

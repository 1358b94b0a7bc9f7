// The brute-force policy on its own: delays, lockouts, windows, and sharing across gateways.

import { describe, expect, it } from 'vitest';
import { addressKey, createBruteForcePolicy, isAuthError, type BruteForceVerdict } from '../src/index.js';
import { FakeClock, MemoryCounterStore } from './memory-stores.js';

const delayOf = (v: BruteForceVerdict) => (v.allowed ? v.delayMs : `locked ${v.retryAfterMs}`);

describe('createBruteForcePolicy', () => {
  it('free failures, then a doubling delay up to the cap, then a lockout for the window', async () => {
    const clock = new FakeClock();
    const policy = createBruteForcePolicy({
      counters: new MemoryCounterStore(clock),
      maxFailuresPerAccount: 8,
      maxFailuresPerAddress: 1000,
      freeFailures: 2,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      windowMs: 60_000,
    });
    const seen: Array<number | string> = [];
    for (let i = 0; i < 9; i++) {
      seen.push(delayOf(await policy.check('192.0.2.1', 'example.com/juliet')));
      await policy.recordFailure('192.0.2.1', 'example.com/juliet');
    }
    expect(seen).toEqual([0, 0, 0, 100, 200, 400, 800, 1000, 'locked 60000']);
    // Another address cannot try this account either ...
    expect(delayOf(await policy.check('198.51.100.7', 'example.com/juliet'))).toBe('locked 60000');
    // ... but may try other accounts.
    expect(delayOf(await policy.check('198.51.100.7', 'example.com/romeo'))).toBe(0);
    // The lockout ends with the window.
    clock.advance(60_000);
    expect(delayOf(await policy.check('192.0.2.1', 'example.com/juliet'))).toBe(0);
  });

  it('locks out an address spraying many accounts', async () => {
    const clock = new FakeClock();
    const policy = createBruteForcePolicy({ counters: new MemoryCounterStore(clock), maxFailuresPerAddress: 5, maxFailuresPerAccount: 5 });
    for (let i = 0; i < 5; i++) {
      expect((await policy.check('192.0.2.9', `example.com/user${i}`)).allowed).toBe(true);
      await policy.recordFailure('192.0.2.9', `example.com/user${i}`);
    }
    expect(delayOf(await policy.check('192.0.2.9'))).toBe(`locked ${15 * 60_000}`);
    expect(delayOf(await policy.check('192.0.2.9', 'example.com/fresh'))).toBe(`locked ${15 * 60_000}`);
    expect((await policy.check('192.0.2.10', 'example.com/user0')).allowed).toBe(true);
  });

  it('success clears the account counter but not the address counter', async () => {
    const clock = new FakeClock();
    const counters = new MemoryCounterStore(clock);
    const policy = createBruteForcePolicy({ counters, freeFailures: 0, baseDelayMs: 100, maxFailuresPerAddress: 10, maxFailuresPerAccount: 10 });
    for (let i = 0; i < 3; i++) await policy.recordFailure('192.0.2.1', 'example.com/juliet');
    await policy.recordSuccess('192.0.2.1', 'example.com/juliet');
    const keys = policy.keys('192.0.2.1', 'example.com/juliet');
    expect(await counters.get(keys.account!)).toBe(0);
    expect(await counters.get(keys.address)).toBe(3);
  });

  it('holds across gateways: two policies on one counter store see the same failures', async () => {
    const clock = new FakeClock();
    const shared = new MemoryCounterStore(clock);
    const gatewayA = createBruteForcePolicy({ counters: shared, maxFailuresPerAccount: 4 });
    const gatewayB = createBruteForcePolicy({ counters: shared, maxFailuresPerAccount: 4 });
    await gatewayA.recordFailure('192.0.2.1', 'example.com/juliet');
    await gatewayB.recordFailure('192.0.2.2', 'example.com/juliet');
    await gatewayA.recordFailure('192.0.2.3', 'example.com/juliet');
    await gatewayB.recordFailure('192.0.2.4', 'example.com/juliet');
    expect((await gatewayA.check('192.0.2.5', 'example.com/juliet')).allowed).toBe(false);
    expect((await gatewayB.check('192.0.2.5', 'example.com/juliet')).allowed).toBe(false);
  });

  it('keys are fixed-length hashes for accounts and prefixed', () => {
    const policy = createBruteForcePolicy({ counters: new MemoryCounterStore(new FakeClock()), keyPrefix: 'p:' });
    const keys = policy.keys('192.0.2.1', `example.com/${'x'.repeat(5000)}`);
    expect(keys.address).toBe('p:ip:192.0.2.1');
    expect(keys.account).toMatch(/^p:acct:[A-Za-z0-9_-]{32}$/);
  });

  it('refuses nonsensical options', () => {
    const counters = new MemoryCounterStore(new FakeClock());
    for (const bad of [{ windowMs: 10 }, { maxFailuresPerAccount: 0 }, { baseDelayMs: -1 }, { maxDelayMs: 1.5 }]) {
      let code = '';
      try {
        createBruteForcePolicy({ counters, ...bad });
      } catch (error) {
        code = isAuthError(error) ? error.code : 'other';
      }
      expect(code).toBe('ERR_AUTH_INVALID_OPTION');
    }
  });
});

describe('addressKey', () => {
  it('IPv4 as is, IPv4-mapped unwrapped, IPv6 by /64', () => {
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('2001:db8:0:1:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:0db8:0000:0001::1')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('2001:db8:0:1::2%eth0')).toBe('2001:db8:0:1::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('not an address')).toBe('other:not an address');
  });
});

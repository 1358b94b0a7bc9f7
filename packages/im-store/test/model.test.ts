// The shared stored forms: every implementation writes and reads these, so they must round-trip
// and refuse what they cannot read.

import {
  decodePending,
  decodeRosterItem,
  encodeRosterItem,
  formatMessageId,
  formatRosterVersion,
  messageIdStamp,
  nextMessageId,
  parseMessageId,
  parseRosterVersion,
  resolveLimits,
  DEFAULT_IM_STORE_LIMITS,
} from '@ambrosia/im-store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectCode } from './helpers.js';

describe('roster versions', () => {
  it('round-trip, and only well-formed versions parse', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 2 ** 40 }), (epoch, counter) => {
        expect(parseRosterVersion(formatRosterVersion(epoch, counter))).toEqual({ epoch, counter });
      }),
    );
    expect(formatRosterVersion(undefined, 0)).toBe('0');
    for (const bad of ['0', '', 'x', '-1', 'a-', 'A-1', 'a-1-2', 'a- 1', 'zzzzzzzzzzzz-1', undefined, 5]) {
      expect(parseRosterVersion(bad), String(bad)).toBeUndefined();
    }
  });
});

describe('message ids', () => {
  it('are 16 digits, increase, and carry their millisecond', () => {
    expect(nextMessageId(0, 1_700_000_000_000)).toBe(1_700_000_000_000_000);
    expect(nextMessageId(1_700_000_000_000_000, 1_700_000_000_000)).toBe(1_700_000_000_000_001);
    expect(nextMessageId(1_700_000_000_005_000, 1_600_000_000_000)).toBe(1_700_000_000_005_001);
    expect(formatMessageId(42)).toBe('0000000000000042');
    expect(parseMessageId('0000000000000042')).toBe(42);
    expect(messageIdStamp('1700000000000999')).toBe(1_700_000_000_000);
    for (const bad of ['42', '00000000000000042', '9999999999999999', 'abcdefghijklmnop', ' 000000000000042', 42]) {
      expect(parseMessageId(bad), String(bad)).toBeUndefined();
    }
  });
});

describe('stored roster items', () => {
  it('encode canonically and round-trip', () => {
    const item = { name: 'Romeo', groups: ['a', 'b'], subscription: 'both' as const, ask: true, approved: false };
    expect(encodeRosterItem(item)).toBe('{"n":"Romeo","g":["a","b"],"s":"both","a":1}');
    expect(decodeRosterItem('r@x', encodeRosterItem(item))).toEqual({ jid: 'r@x', ...item });
    expect(encodeRosterItem({ groups: [], subscription: 'none', ask: false, approved: true })).toBe('{"g":[],"s":"none","p":1}');
  });

  it('refuse what they cannot read with IM_STORE_CORRUPT', () => {
    for (const raw of ['', 'not json', 'null', '[]', '{"g":[],"s":"remove"}', '{"g":"x","s":"none"}', '{"g":[1],"s":"none"}', '{"g":[],"s":"none","n":3}', 7]) {
      expectCode(() => decodeRosterItem('r@x', raw), 'IM_STORE_CORRUPT');
    }
  });

  it('pending requests round-trip with and without status, status may hold newlines', () => {
    expect(decodePending('r@x', '123')).toEqual({ jid: 'r@x', stamp: 123 });
    expect(decodePending('r@x', '123\nhi\nthere')).toEqual({ jid: 'r@x', stamp: 123, status: 'hi\nthere' });
    expect(decodePending('r@x', '123\n')).toEqual({ jid: 'r@x', stamp: 123, status: '' });
    for (const raw of ['', 'x', '12x\nhi', null]) expectCode(() => decodePending('r@x', raw), 'IM_STORE_CORRUPT');
  });
});

describe('limits', () => {
  it('default every bound, ignore other options, and refuse nonsense', () => {
    expect(resolveLimits()).toEqual(DEFAULT_IM_STORE_LIMITS);
    expect(resolveLimits({ url: 'x', maxBlockedJids: 3 } as never).maxBlockedJids).toBe(3);
    for (const value of [0, -1, 1.5, Number.NaN, 2 ** 41, '5', null]) {
      expectCode(() => resolveLimits({ maxVCardBytes: value as number }), 'IM_STORE_INVALID_ARGUMENT');
    }
    expectCode(() => resolveLimits({ rosterChangeLogSize: -1 }), 'IM_STORE_INVALID_ARGUMENT');
    expectCode(() => resolveLimits({ maxArchiveBytes: 10 }), 'IM_STORE_INVALID_ARGUMENT');
  });
});

import { describe, expect, it } from 'vitest';
import { addressKey } from '../src/index.js';

describe('addressKey', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:cb00:7107', '203.0.113.7'],
    ['0:0:0:0:0:ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::2', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['/run/ambrosia.sock', '/run/ambrosia.sock'],
    ['not:an:address', 'not:an:address'],
  ])('%s → %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });

  it('one /64 is one key, the next /64 another', () => {
    expect(addressKey('2001:db8:0:1::a')).toBe(addressKey('2001:db8:0:1:ffff:ffff:ffff:ffff'));
    expect(addressKey('2001:db8:0:1::a')).not.toBe(addressKey('2001:db8:0:2::a'));
  });

  it('takes another prefix length', () => {
    expect(addressKey('2001:db8:1:2::1', { ipv6PrefixLength: 48 })).toBe('2001:db8:1::/48');
    expect(addressKey('2001:db8:1:2::1', { ipv6PrefixLength: 56 })).toBe('2001:db8:1:0::/56');
    expect(addressKey('2001:db8:1:2ff::1', { ipv6PrefixLength: 56 })).toBe('2001:db8:1:200::/56');
    expect(addressKey('2001:db8::1', { ipv6PrefixLength: 128 })).toBe('2001:db8:0:0:0:0:0:1/128');
    expect(() => addressKey('::1', { ipv6PrefixLength: 0 })).toThrow(RangeError);
  });
});

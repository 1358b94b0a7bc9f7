import { describe, expect, it } from 'vitest';
import { TrustedProxies } from '../src/index.js';

describe('TrustedProxies', () => {
  const trusted = new TrustedProxies(['10.0.0.0/8', '192.0.2.7', '172.16.0.0/12', '2001:db8:aa::/48', '::1', 'fe80::/10', '198.51.100.128/25']);

  it.each([
    ['10.1.2.3', true],
    ['10.255.255.255', true],
    ['11.0.0.0', false],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['172.31.255.255', true],
    ['172.32.0.0', false],
    ['198.51.100.128', true],
    ['198.51.100.127', false],
    ['::ffff:10.9.8.7', true], // how a dual-stack listener reports an IPv4 peer
    ['::ffff:192.0.2.8', false],
    ['::ffff:a00:1', true], // the same mapped address in hex
    ['2001:db8:aa:1::5', true],
    ['2001:db8:ab::5', false],
    ['::1', true],
    ['::2', false],
    ['fe80::1%eth0', true], // the zone names our interface, not the peer
    ['0:0:0:0:0:0:0:1', true],
    ['not an address', false],
    ['', false],
  ])('%s → %s', (address, expected) => {
    expect(trusted.trusts(address)).toBe(expected);
  });

  it('trusts nobody when empty, and nothing undefined', () => {
    expect(new TrustedProxies().trusts('127.0.0.1')).toBe(false);
    expect(trusted.trusts(undefined)).toBe(false);
  });

  it('IPv4 blocks cover IPv4-mapped IPv6, IPv6 blocks in the mapped range cover IPv4', () => {
    const mapped = new TrustedProxies(['::ffff:192.0.2.0/120']);
    expect(mapped.trusts('192.0.2.200')).toBe(true);
    expect(mapped.trusts('192.0.3.1')).toBe(false);
    expect(new TrustedProxies(['0.0.0.0/0']).trusts('2001:db8::1')).toBe(false);
    expect(new TrustedProxies(['::/0']).trusts('203.0.113.1')).toBe(true);
  });

  it.each(['10.0.0.1/8', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/08', '2001:db8::1/32', '::/129', 'example.com', '10.0.0.0/8/8', 'fe80::1%eth0'])(
    'refuses the entry %s with a RangeError',
    (entry) => {
      expect(() => new TrustedProxies([entry])).toThrow(RangeError);
    },
  );
});

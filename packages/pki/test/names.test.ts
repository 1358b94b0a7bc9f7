import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalDnsName, formatIpAddress, ipAddressBytes } from '../src/names.js';

describe('IP addresses', () => {
  it('parses every textual IPv6 form back to the same 16 bytes (property)', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const bytes = ipAddressBytes(text);
        expect(bytes).toHaveLength(16);
        const formatted = formatIpAddress(bytes!);
        expect(isIP(formatted!)).toBe(6);
        expect(ipAddressBytes(formatted!)).toEqual(bytes);
        // Node's URL parser serialises IPv6 in RFC 5952 form too: both must agree.
        expect(formatted).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
      }),
      { numRuns: 300 },
    );
  });

  it('parses IPv4 to 4 bytes (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (text) => {
        expect(formatIpAddress(ipAddressBytes(text)!)).toBe(text);
      }),
    );
  });

  it('compresses the longest run of zero groups, the first on ties (RFC 5952 §4.2.3)', () => {
    expect(formatIpAddress(ipAddressBytes('2001:db8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
    expect(formatIpAddress(ipAddressBytes('2001:0:0:1:0:0:0:1')!)).toBe('2001:0:0:1::1');
    expect(formatIpAddress(ipAddressBytes('2001:db8:0:1:1:1:1:1')!)).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIpAddress(ipAddressBytes('::')!)).toBe('::');
  });

  it('rejects what is not an address', () => {
    for (const text of ['', '1.2.3', '1.2.3.256', '::1::', 'fe80::1%eth0', '12345::', 'localhost', '[::1]']) {
      expect(ipAddressBytes(text), text).toBeUndefined();
    }
    expect(formatIpAddress(Buffer.alloc(5))).toBeUndefined();
  });
});

describe('DNS names', () => {
  it('canonicalises case, a trailing dot and IDNs to A-labels', () => {
    expect(canonicalDnsName('Example.ORG.')).toBe('example.org');
    expect(canonicalDnsName('Bücher.example')).toBe('xn--bcher-kva.example');
    expect(canonicalDnsName('localhost')).toBe('localhost');
  });

  it('enforces RFC 1035 lengths', () => {
    const label63 = 'a'.repeat(63);
    expect(canonicalDnsName(`${label63}.example`)).toBe(`${label63}.example`);
    expect(canonicalDnsName(`${label63}a.example`)).toBeUndefined();
    const long = Array.from({ length: 4 }, () => label63).join('.'); // 255 characters
    expect(canonicalDnsName(long)).toBeUndefined();
    expect(canonicalDnsName(long.slice(0, 253))).toBe(long.slice(0, 253));
  });

  it('is idempotent (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.domain(), fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 15 })), (input) => {
        const once = canonicalDnsName(input);
        if (once !== undefined) expect(canonicalDnsName(once)).toBe(once);
      }),
      { numRuns: 500 },
    );
  });
});

// Domainparts (RFC 7622 §3.2): IDNA2008 labels with RFC 5895 mapping, IP literals, limits.
import { domainToASCII } from 'node:url';
import { describe, expect, it } from 'vitest';
import { domainpartToASCII, isJidError, parseJID, prepDomainpart, type JidErrorCode, type JidErrorReason } from '../src/index.js';
import { DOMAIN_CACHE_ENTRIES, domainCacheSize, prepDomainpartFull } from '../src/parts.js';
import { punycodeEncode } from '../src/punycode.js';
import { codePoints } from '../src/unicode.js';

function failureOf(input: string): { code: JidErrorCode; reason: JidErrorReason } {
  try {
    prepDomainpart(input);
  } catch (e) {
    if (!isJidError(e)) throw e;
    expect(e.part).toBe('domain');
    return { code: e.code, reason: e.reason };
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}
const reasonOf = (input: string): JidErrorReason => failureOf(input).reason;

describe('ASCII host names', () => {
  it('lower-cases and strips one trailing dot', () => {
    expect(prepDomainpart('EXAMPLE.COM')).toBe('example.com');
    expect(prepDomainpart('Example.Com.')).toBe('example.com');
    expect(prepDomainpart('localhost')).toBe('localhost');
    expect(prepDomainpart('a-b.c-d.example')).toBe('a-b.c-d.example');
    expect(prepDomainpart('1a.example')).toBe('1a.example');
  });
  it('refuses empty labels, including a second trailing dot', () => {
    for (const s of ['a..b', '.example', 'example..', 'example.com..']) expect(reasonOf(s)).toBe('empty-label');
    expect(failureOf('.').code).toBe('JID_EMPTY');
  });
  it('refuses leading and trailing hyphens and reserved "??--" labels (RFC 5891 §4.2.3.1)', () => {
    for (const s of ['-a.example', 'a-.example', 'a.-b.example', 'ab--cd.example']) expect(reasonOf(s)).toBe('hyphen');
  });
  it('refuses characters outside letters, digits and hyphen (no underscore, space, port or URL)', () => {
    for (const s of ['_xmpp.example', 'a_b.example', 'a b.example', 'a%20b.example', 'example.com:5222', 'a!b.example']) {
      expect(reasonOf(s)).toBe('disallowed-code-point');
    }
  });
  it('allows 63-octet labels and refuses 64', () => {
    expect(prepDomainpart(`${'a'.repeat(63)}.example`)).toBe(`${'a'.repeat(63)}.example`);
    expect(failureOf(`${'a'.repeat(64)}.example`)).toEqual({ code: 'JID_TOO_LONG', reason: 'label-too-long' });
    expect(failureOf('a'.repeat(64))).toEqual({ code: 'JID_TOO_LONG', reason: 'label-too-long' });
  });
  it('allows 253-octet names and refuses 254 (RFC 1035 §2.3.4)', () => {
    const longest = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(longest).toHaveLength(253);
    expect(prepDomainpart(longest)).toBe(longest);
    expect(prepDomainpart(`${longest}.`)).toBe(longest);
    expect(failureOf(`${longest}d`)).toEqual({ code: 'JID_TOO_LONG', reason: 'domain-too-long' });
  });
});

describe('internationalised domain names (IDNA2008, RFC 5895 mapping)', () => {
  it('münchen.example ↔ xn--mnchen-3ya.example: both prepare to the U-label form', () => {
    expect(prepDomainpart('münchen.example')).toBe('münchen.example');
    expect(prepDomainpart('xn--mnchen-3ya.example')).toBe('münchen.example');
    expect(prepDomainpart('XN--MNCHEN-3YA.EXAMPLE.')).toBe('münchen.example');
    expect(prepDomainpart('MÜNCHEN.example')).toBe('münchen.example');
    expect(prepDomainpart('mu\u0308nchen.example')).toBe('münchen.example');
    expect(parseJID('juliet@münchen.example').equals(parseJID('juliet@xn--mnchen-3ya.example'))).toBe(true);
    expect(domainpartToASCII('München.example')).toBe('xn--mnchen-3ya.example');
    expect(parseJID('a@münchen.example/r').toASCIIDomain()).toBe('xn--mnchen-3ya.example');
  });
  it('maps fullwidth forms and ideographic full stops', () => {
    expect(prepDomainpart('ＥＸＡＭＰＬＥ。com')).toBe('example.com');
    expect(prepDomainpart('例え．テスト')).toBe('例え.テスト');
    expect(prepDomainpart('example。com。')).toBe('example.com');
  });
  it('keeps deviation characters (non-transitional): faß.de is not fass.de', () => {
    expect(prepDomainpart('faß.de')).toBe('faß.de');
    expect(prepDomainpart('xn--fa-hia.de')).toBe('faß.de');
    expect(prepDomainpart('βόλος.example')).toBe('βόλος.example');
  });
  it('accepts scripts of all kinds, and right-to-left names that satisfy the Bidi Rule', () => {
    for (const d of ['пример.рф', '例子.测试', 'ドメイン.テスト', 'קוקה.example', 'مثال.إختبار', 'a123.אב.example', 'अ.भारत']) {
      expect(prepDomainpart(d)).toBe(d);
    }
  });
  it('refuses what IDNA2008 disallows but UTS-46 would map or allow (♚, ℌ, soft hyphen, emoji)', () => {
    for (const s of ['♚.example', 'ℌ.example', 'a\u00ADb.example', '😀.example', 'x²y.example', 'a·b.example']) {
      expect(['disallowed-code-point', 'context-rule']).toContain(reasonOf(s));
    }
  });
  it('refuses a label that starts with a combining mark', () => {
    expect(reasonOf('\u0301a.example')).toBe('leading-combining-mark');
  });
  it('applies the Bidi Rule to every label of a right-to-left name', () => {
    expect(reasonOf('אבa.example')).toBe('bidi-rule');
    expect(reasonOf('123.אב.example')).toBe('bidi-rule'); // an LTR label must start with L
    expect(reasonOf('אב-.example')).toBe('hyphen');
    expect(reasonOf('\u0628\u06611.example')).toBe('bidi-rule');
    expect(prepDomainpart('אב\u05B0.example')).toBe('אב\u05B0.example'); // trailing NSM is fine
  });
  it('enforces the contextual rules in labels', () => {
    expect(prepDomainpart('l·l.cat')).toBe('l·l.cat');
    expect(prepDomainpart('\u0375α.example')).toBe('\u0375α.example');
    expect(prepDomainpart('カ・a.example')).toBe('カ・a.example');
    expect(reasonOf('a\u200Db.example')).toBe('context-rule');
    expect(reasonOf('\u0661\u06F2.example')).toBe('context-rule');
  });
  it('refuses malformed A-labels and A-labels of invalid U-labels (RFC 5891 §5.3)', () => {
    expect(reasonOf('xn--abc-.example')).toBe('hyphen'); // would decode to plain "abc"
    expect(reasonOf('xn--.example')).toBe('hyphen');
    expect(reasonOf('xn--99999999999999.example')).toBe('invalid-a-label'); // integer overflow
    expect(reasonOf('xn--mnchen!-3ya.example')).toBe('disallowed-code-point');
    expect(reasonOf('xn--45h.example')).toBe('disallowed-code-point'); // ♚: valid in UTS-46, not in IDNA2008
    // The Punycode of a decomposed (non-NFC) string is not an A-label.
    expect(reasonOf(`xn--${punycodeEncode(codePoints('mu\u0308nchen'))}.example`)).toBe('invalid-a-label');
    // Nor is the Punycode of an upper-case letter (IDNA2008 "Unstable").
    expect(reasonOf(`xn--${punycodeEncode(codePoints('m\u00DCnchen'))}.example`)).toBe('disallowed-code-point');
  });
  it('limits labels to 63 octets in A-label form', () => {
    const ok = 'é'.repeat(57); // xn-- plus 59 characters
    expect(domainpartToASCII(`${ok}.example`).split('.')[0]).toHaveLength(63);
    expect(prepDomainpart(`${ok}.example`)).toBe(`${ok}.example`);
    expect(failureOf(`${'é'.repeat(58)}.example`)).toEqual({ code: 'JID_TOO_LONG', reason: 'label-too-long' });
  });
  it('agrees with Node’s UTS-46 A-labels for every name it accepts', () => {
    for (const d of ['münchen.example', 'faß.de', 'пример.рф', '例子.测试', 'קוקה.example', 'ドメイン.テスト', 'βόλος.example']) {
      expect(domainpartToASCII(d)).toBe(domainToASCII(d));
    }
  });
});

describe('IP literals', () => {
  it('accepts dotted-quad IPv4', () => {
    expect(prepDomainpart('127.0.0.1')).toBe('127.0.0.1');
    expect(prepDomainpart('192.168.1.1')).toBe('192.168.1.1');
    expect(parseJID('user@192.168.1.1/r').domain).toBe('192.168.1.1');
  });
  it('refuses numeric names that are not dotted-quad IPv4 (octal-looking, short, out of range)', () => {
    for (const s of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.04', '123', 'example.123', '127.1']) expect(reasonOf(s)).toBe('numeric-tld');
  });
  it('refuses hexadecimal final labels that URL parsers and inet_aton read as IPv4 (0x7f000001)', () => {
    for (const s of ['0x7f000001', '0x7f.0.0.1', 'a.0x', '0XFF']) expect(reasonOf(s)).toBe('numeric-tld');
    expect(prepDomainpart('0x7f.example')).toBe('0x7f.example');
    expect(prepDomainpart('0xg')).toBe('0xg');
  });
  it('accepts bracketed IPv6 and writes it canonically (RFC 5952)', () => {
    expect(prepDomainpart('[::1]')).toBe('[::1]');
    expect(prepDomainpart('[2001:0DB8:0:0:0:0:0:1]')).toBe('[2001:db8::1]');
    expect(prepDomainpart('[2001:db8:0:0:1:0:0:1]')).toBe('[2001:db8::1:0:0:1]');
    expect(parseJID('juliet@[::1]/balcony').toString()).toBe('juliet@[::1]/balcony');
    expect(parseJID('juliet@[0:0::1]').equals(parseJID('juliet@[::1]'))).toBe(true);
  });
  it('accepts IPvFuture literals (RFC 3986 §3.2.2), lower-cased', () => {
    expect(prepDomainpart('[v1.Example:Address]')).toBe('[v1.example:address]');
  });
  it('refuses malformed literals, zone identifiers and ports', () => {
    for (const s of ['[::gg]', '[::1', '[::1%25eth0]', '[fe80::1%eth0]', '[]', '[v1.]', '[1.2.3.4]', '[::1]:5222']) {
      expect(reasonOf(s)).toBe('ip-literal');
    }
    expect(reasonOf('::1')).toBe('disallowed-code-point');
  });
});

describe('cache of prepared internationalised domains', () => {
  it('stays within its bound and returns what the full algorithm returns', () => {
    for (let i = 0; i < DOMAIN_CACHE_ENTRIES + 100; i++) {
      const name = `bücher${i}.example`;
      expect(prepDomainpart(name)).toBe(prepDomainpartFull(name));
      expect(prepDomainpart(name)).toBe(name); // second call: from the cache
    }
    expect(domainCacheSize()).toBe(DOMAIN_CACHE_ENTRIES);
    expect(prepDomainpart('BÜCHER1.example')).toBe('bücher1.example');
  });
  it('does not cache failures', () => {
    expect(reasonOf('♚.example')).toBe('disallowed-code-point');
    expect(reasonOf('♚.example')).toBe('disallowed-code-point');
  });
});

describe('emptiness and size', () => {
  it('refuses the empty string and huge inputs', () => {
    expect(failureOf('')).toEqual({ code: 'JID_EMPTY', reason: 'empty' });
    expect(failureOf('a.'.repeat(50_000))).toEqual({ code: 'JID_TOO_LONG', reason: 'too-long' });
  });
});

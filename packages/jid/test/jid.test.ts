// The JID value and parsing entry points.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { JidError, isJidError, jid, parseJID, tryParseJID } from '../src/index.js';

describe('parseJID', () => {
  it('splits at the first "/" and then the last "@" before it (RFC 7622 §3.1)', () => {
    const j = parseJID('juliet@example.com/foo@bar/baz');
    expect([j.local, j.domain, j.resource]).toEqual(['juliet', 'example.com', 'foo@bar/baz']);
    const d = parseJID('example.com/a@b');
    expect([d.local, d.domain, d.resource]).toEqual(['', 'example.com', 'a@b']);
  });
  it('reports which part is wrong', () => {
    const cases: Array<[string, string, string]> = [
      ['', 'JID_EMPTY', 'whole'],
      ['@example.com', 'JID_EMPTY', 'local'],
      ['a@', 'JID_EMPTY', 'domain'],
      ['a@/r', 'JID_EMPTY', 'domain'],
      ['example.com/', 'JID_EMPTY', 'resource'],
      ['a@b@example.com', 'JID_DOMAINPART_INVALID', 'domain'], // RFC 7622 §3.2: the localpart ends at the first "@"
      ['a@exa mple.com', 'JID_DOMAINPART_INVALID', 'domain'],
      ['a@example.com/\u0000', 'JID_RESOURCEPART_INVALID', 'resource'],
      [`${'a'.repeat(1024)}@example.com`, 'JID_TOO_LONG', 'local'],
      [`example.com/${'r'.repeat(1024)}`, 'JID_TOO_LONG', 'resource'],
      ['a'.repeat(20_000), 'JID_TOO_LONG', 'whole'],
    ];
    for (const [input, code, part] of cases) {
      expect(() => parseJID(input), JSON.stringify(input).slice(0, 40)).toThrow(expect.objectContaining({ code, part }));
    }
  });
  it('accepts the longest JID: three parts of 1023 octets', () => {
    const j = parseJID(`${'a'.repeat(1023)}@[v1.${'b'.repeat(1018)}]/${'c'.repeat(1023)}`);
    expect(Buffer.byteLength(j.toString())).toBe(3071);
  });
  it('refuses non-strings with a JidError', () => {
    expect(() => parseJID(undefined as unknown as string)).toThrow(expect.objectContaining({ code: 'JID_NOT_A_STRING' }));
    expect(() => parseJID(42 as unknown as string)).toThrow(expect.objectContaining({ code: 'JID_NOT_A_STRING' }));
  });
});

describe('tryParseJID', () => {
  it('returns undefined instead of throwing', () => {
    expect(tryParseJID('@example.com')).toBeUndefined();
    expect(tryParseJID('♚@example.com')).toBeUndefined();
    expect(tryParseJID('juliet@example.com')?.toString()).toBe('juliet@example.com');
  });
});

describe('JID', () => {
  it('normalises on parse and compares normalised forms: resource case is preserved', () => {
    const a = parseJID('Juliet@Example.COM/Balcony');
    const b = parseJID('juliet@example.com/Balcony');
    expect(a.toString()).toBe('juliet@example.com/Balcony');
    expect(a.equals(b)).toBe(true);
    expect(a.equals(parseJID('juliet@example.com/balcony'))).toBe(false);
    expect(a.equals(a.bare)).toBe(false);
    expect(a.equals(undefined)).toBe(false);
    expect(parseJID('ΣΑΣ@example.com').equals(parseJID('σας@example.com'))).toBe(true);
    expect(parseJID('ς@example.com').equals(parseJID('σ@example.com'))).toBe(false);
  });
  it('gives the bare JID and its string', () => {
    const full = parseJID('juliet@example.com/balcony');
    expect(full.isBare()).toBe(false);
    expect(full.bare.toString()).toBe('juliet@example.com');
    expect(full.bare.isBare()).toBe(true);
    expect(full.bare).toBe(full.bare); // computed once
    expect(full.bare.bare).toBe(full.bare);
    expect(full.toBareString()).toBe('juliet@example.com');
    expect(parseJID('example.com/r').toBareString()).toBe('example.com');
    expect(parseJID('example.com').toString()).toBe('example.com');
  });
  it('keeps the input string when it was already canonical, and rebuilds it otherwise', () => {
    const input = 'juliet@example.com/balcony';
    expect(parseJID(input).toString()).toBe(input);
    expect(parseJID('juliet@example.com./balcony').toString()).toBe(input);
    expect(parseJID('JULIET@example.com').toString()).toBe('juliet@example.com');
  });
  it('withResource validates the new resource', () => {
    const bare = parseJID('juliet@example.com');
    const full = bare.withResource('Chamber\u00A0Two');
    expect(full.toString()).toBe('juliet@example.com/Chamber Two');
    expect(full.bare.equals(bare)).toBe(true);
    expect(() => bare.withResource('')).toThrow(expect.objectContaining({ code: 'JID_EMPTY', part: 'resource' }));
    expect(() => bare.withResource('a\u0000')).toThrow(expect.objectContaining({ code: 'JID_RESOURCEPART_INVALID' }));
  });
  it('serialises as its string in JSON and in util.inspect', () => {
    expect(JSON.stringify({ to: parseJID('a@b.example/c') })).toBe('{"to":"a@b.example/c"}');
    expect(inspect(parseJID('a@b.example'))).toBe('JID<a@b.example>');
  });
});

describe('jid() from parts', () => {
  it('prepares each part', () => {
    expect(jid('Juliet', 'EXAMPLE.com', 'Balcony').toString()).toBe('juliet@example.com/Balcony');
    expect(jid(undefined, 'example.com').toString()).toBe('example.com');
    expect(jid('', 'example.com', '').toString()).toBe('example.com');
    expect(jid('a', 'xn--mnchen-3ya.example').domain).toBe('münchen.example');
  });
  it('validates each part, including separators that parseJID would have split on', () => {
    expect(() => jid('a@b', 'example.com')).toThrow(expect.objectContaining({ code: 'JID_LOCALPART_INVALID' }));
    expect(() => jid('a', 'example.com/x')).toThrow(expect.objectContaining({ code: 'JID_DOMAINPART_INVALID' }));
    expect(() => jid('a', '')).toThrow(expect.objectContaining({ code: 'JID_EMPTY', part: 'domain' }));
    expect(jid('a', 'example.com', 'x/y@z').resource).toBe('x/y@z');
  });
  it('equals the parsed form', () => {
    expect(jid('ｊｕｌｉｅｔ', 'Example.COM.', 'r').equals(parseJID('juliet@example.com/r'))).toBe(true);
  });
});

describe('JidError', () => {
  it('carries a stable code, the XMPP condition, the part and a reason, and never echoes the input', () => {
    try {
      parseJID('secret\u265A@example.com');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(JidError);
      expect(isJidError(e)).toBe(true);
      const err = e as JidError;
      expect(err).toMatchObject({ code: 'JID_LOCALPART_INVALID', condition: 'jid-malformed', part: 'local', reason: 'disallowed-code-point', codePoint: 0x265a });
      expect(err.message).toContain('U+265A');
      expect(err.message).not.toContain('secret');
    }
  });
  it('is recognised by brand, not by class (a second copy of the package would have another class)', () => {
    const foreign = Object.assign(new Error('x'), { isJidError: true, code: 'JID_EMPTY', part: 'whole', condition: 'jid-malformed' });
    expect(isJidError(foreign)).toBe(true);
    expect(isJidError(new Error('x'))).toBe(false);
    expect(isJidError({ isJidError: true, code: 'SOMETHING_ELSE' })).toBe(false);
    expect(isJidError(null)).toBe(false);
  });
});

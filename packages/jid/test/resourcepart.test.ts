// Resourceparts: PRECIS OpaqueString (RFC 8265 §4.2).
import { describe, expect, it } from 'vitest';
import { isJidError, prepResourcepart, type JidErrorReason } from '../src/index.js';

function reasonOf(input: string): JidErrorReason {
  try {
    prepResourcepart(input);
  } catch (e) {
    if (!isJidError(e)) throw e;
    expect(e.code).toMatch(/^JID_(RESOURCEPART_INVALID|EMPTY|TOO_LONG)$/);
    expect(e.part).toBe('resource');
    return e.reason;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

describe('OpaqueString mapping', () => {
  it('preserves case: Balcony stays Balcony', () => {
    expect(prepResourcepart('Balcony')).toBe('Balcony');
    expect(prepResourcepart('ΣΑΣ')).toBe('ΣΑΣ');
  });
  it('keeps spaces, including leading and trailing ones, and ASCII punctuation', () => {
    for (const s of ['foo bar', ' foo ', ' ', 'a@b/c', 'foo/bar@baz', '"<&>\'', '~!#$%^*()']) expect(prepResourcepart(s)).toBe(s);
  });
  it('maps non-ASCII spaces to U+0020 (RFC 8265 §4.2.1 additional mapping rule)', () => {
    expect(prepResourcepart('A\u00A0B')).toBe('A B');
    expect(prepResourcepart('\u2003x\u3000')).toBe(' x ');
    expect(prepResourcepart('a\u202Fb\u205Fc')).toBe('a b c');
  });
  it('applies no width mapping: fullwidth letters stay fullwidth', () => {
    expect(prepResourcepart('ＲＥＳ')).toBe('ＲＥＳ');
  });
  it('normalises to NFC', () => {
    expect(prepResourcepart('Re\u0301s')).toBe('Rés');
    expect(prepResourcepart('\u1100\u1161')).toBe('가');
  });
});

describe('FreeformClass (RFC 8264 §4.3)', () => {
  it('allows symbols, punctuation, compatibility characters and non-ASCII text', () => {
    for (const s of ['♚', '😀 phone', 'Ⅳ', 'ﬀ', 'x²', '€100', 'Küche', 'غرفة', 'aאב', '電話']) expect(prepResourcepart(s)).toBe(s);
  });
  it('refuses controls, default-ignorables, noncharacters, private use and surrogates', () => {
    for (const s of ['\u0000', 'a\tb', 'a\nb', '\u007F', '\u0085', 'a\u00ADb', 'a\u200Bb', 'a\u2060b', '\uFEFF', '\uFFFF', '\uE000', '\uD800', 'x\uDFFF']) {
      expect(reasonOf(s)).toBe('disallowed-code-point');
    }
  });
  it('refuses unassigned code points', () => {
    expect(reasonOf('\u0378')).toBe('unassigned-code-point');
  });
  it('still enforces the contextual rules', () => {
    expect(reasonOf('a·b')).toBe('context-rule');
    expect(reasonOf('a\u200Db')).toBe('context-rule');
    expect(prepResourcepart('l·l')).toBe('l·l');
  });
  it('applies no directionality rule', () => {
    expect(prepResourcepart('aאב1١')).toBe('aאב1١');
  });
});

describe('length and emptiness', () => {
  it('allows 1023 octets and refuses 1024', () => {
    expect(prepResourcepart('a'.repeat(1023))).toHaveLength(1023);
    expect(reasonOf('a'.repeat(1024))).toBe('too-long');
    expect(prepResourcepart('😀'.repeat(255) + 'abc')).toHaveLength(513); // 1023 octets
    expect(reasonOf('😀'.repeat(256))).toBe('too-long');
  });
  it('refuses the empty string', () => {
    expect(reasonOf('')).toBe('empty');
  });
});

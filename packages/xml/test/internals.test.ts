import { describe, expect, it } from 'vitest';
import { ByteAccumulator } from '../src/byte-accumulator.js';
import { decodeReferences, isXmlName, normalizeAttributeWhitespace, normalizeLineEnds } from '../src/chars.js';
import { ATTRIBUTE, RAW, TEXT, decodeAsciiInterned, decodeCharacters } from '../src/intern.js';
import { isValidXmlUtf8, isXmlChar } from '../src/utf8.js';

describe('ByteAccumulator', () => {
  it('copies each byte a bounded number of times: a token fed in 4096 chunks costs linear work', () => {
    const acc = new ByteAccumulator();
    const chunk = Buffer.alloc(1024, 0x61);
    const chunks = 4096;
    for (let i = 0; i < chunks; i++) acc.append(chunk, 0, chunk.length);
    const total = chunks * chunk.length;
    expect(acc.length).toBe(total);
    // Appends copy every byte once; doubling growth copies at most as much again.
    expect(acc.copiedBytes).toBeLessThanOrEqual(2 * total);
    expect(acc.take('latin1')).toHaveLength(total);
    expect(acc.length).toBe(0);
  });

  it('drops a split terminator and decodes UTF-8 split across appends', () => {
    const acc = new ByteAccumulator();
    const bytes = Buffer.from('é😀]]');
    for (let i = 0; i < bytes.length; i++) acc.append(bytes, i, i + 1);
    acc.truncate(2);
    expect(acc.take('utf8')).toBe('é😀');
  });
});

describe('character helpers', () => {
  it('validates XML Chars and UTF-8', () => {
    expect([0x9, 0xa, 0xd, 0x20, 0xd7ff, 0xe000, 0xfffd, 0x10000, 0x10ffff].every(isXmlChar)).toBe(true);
    expect([0x0, 0x8, 0x1b, 0xd800, 0xdfff, 0xfffe, 0xffff, 0x110000].some(isXmlChar)).toBe(false);
    expect(isValidXmlUtf8(Buffer.from('aé€😀'))).toBe(true);
    expect(isValidXmlUtf8(Buffer.from([0xc0, 0xaf]))).toBe(false);
    expect(isValidXmlUtf8(Buffer.from([0xe2, 0x82]))).toBe(false);
    expect(isValidXmlUtf8(Buffer.from([0xef, 0xbf, 0xbe]))).toBe(false);
    expect(isValidXmlUtf8(Buffer.from([0x1b]))).toBe(false);
  });

  it('validates names with non-ASCII characters by the XML 1.0 productions', () => {
    expect(isXmlName('café')).toBe(true);
    expect(isXmlName('日本')).toBe(true);
    expect(isXmlName('a·b')).toBe(true);
    expect(isXmlName('·a')).toBe(false);
    expect(isXmlName('a×b')).toBe(false);
    expect(isXmlName('-a')).toBe(false);
  });

  it('normalizes line ends, attribute whitespace and references', () => {
    expect(normalizeLineEnds('a\r\nb\rc\n')).toBe('a\nb\nc\n');
    expect(normalizeAttributeWhitespace('a\r\nb\tc\nd\re')).toBe('a b c d e');
    expect(decodeReferences('&lt;&gt;&amp;&quot;&apos;&#65;&#x1F600;x')).toBe('<>&"\'A😀x');
  });

  it('interns short ASCII strings without confusing different ones', () => {
    const buf = Buffer.from('message body message bodx');
    const a = decodeAsciiInterned(buf, 0, 7);
    const b = decodeAsciiInterned(buf, 13, 20);
    expect(a).toBe('message');
    expect(b).toBe('message');
    expect(decodeAsciiInterned(buf, 8, 12)).toBe('body');
    expect(decodeAsciiInterned(buf, 21, 25)).toBe('bodx');
  });

  it('tells apart strings that share the sampled bytes of the intern slot', () => {
    // Same length, first, middle and last byte: same slot, different strings.
    const buf = Buffer.from('abcXe abcYe abcXe q');
    expect(decodeAsciiInterned(buf, 0, 5)).toBe('abcXe');
    expect(decodeAsciiInterned(buf, 6, 11)).toBe('abcYe');
    expect(decodeAsciiInterned(buf, 12, 17)).toBe('abcXe');
    expect(decodeAsciiInterned(buf, 18, 19)).toBe('q');
  });
});

describe('decodeCharacters', () => {
  const decode = (s: string, mode: typeof RAW | typeof TEXT | typeof ATTRIBUTE): string => {
    // Surrounding bytes make sure the decoder stays inside [start, end).
    const buf = Buffer.from(`<${s}<`, 'utf8');
    return decodeCharacters(buf, 1, buf.length - 1, mode);
  };
  const samples = [
    'plain ascii',
    'Grüße aus München',
    'привет 你好 😀 👍🏽 \u{10FFFF} \u{FFFD}',
    'a\r\nb\rc\nd\te\r',
    '&lt;&gt;&amp;&quot;&apos;&#65;&#x41;&#x1F600;&#0000233;&#x10FFFF;&#13;&#9;&#10;',
    'é&amp;\r\n😀&#xe9;',
    '',
  ];

  it('decodes like the string helpers in every mode', () => {
    for (const s of samples) {
      expect(decode(s, RAW)).toBe(s);
      expect(decode(s, TEXT)).toBe(decodeReferences(normalizeLineEnds(s)));
      expect(decode(s, ATTRIBUTE)).toBe(decodeReferences(normalizeAttributeWhitespace(s)));
    }
  });

  it('takes the string path for long tokens and gives the same result', () => {
    for (const s of samples) {
      const long = s.repeat(Math.ceil(5000 / Math.max(1, Buffer.byteLength(s))));
      if (long === '') continue;
      expect(Buffer.byteLength(long)).toBeGreaterThan(4096);
      expect(decode(long, RAW)).toBe(long);
      expect(decode(long, TEXT)).toBe(decodeReferences(normalizeLineEnds(long)));
      expect(decode(long, ATTRIBUTE)).toBe(decodeReferences(normalizeAttributeWhitespace(long)));
    }
  });

  it('keeps a CR at the end of the token a line end, not joined with the byte after it', () => {
    const buf = Buffer.from('a\r\n', 'utf8');
    expect(decodeCharacters(buf, 0, 2, TEXT)).toBe('a\n');
    expect(decodeCharacters(buf, 0, 2, ATTRIBUTE)).toBe('a ');
  });
});

import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, PREAUTH_LIMITS, StreamParser, parseElement, serialize } from '../src/index.js';
import type { XmlLimits, XmlStreamError } from '../src/index.js';
import { CLIENT_HEADER, chunked, newTranscript, parseChunks, parseWhole, recordingParser, splits } from './helpers.js';

/** Feeds chunks until the first error; returns how many bytes had been written when it was reported. */
function bytesFedAtError(chunks: Buffer[], limits?: Partial<XmlLimits>): { fed: number; error: XmlStreamError | undefined } {
  let fed = 0;
  let error: XmlStreamError | undefined;
  let errors = 0;
  const parser = new StreamParser(
    {
      streamStart() {},
      element() {},
      streamEnd() {},
      error(e) {
        errors++;
        error ??= e;
      },
    },
    limits,
  );
  let fedAtError = -1;
  for (const chunk of chunks) {
    parser.write(chunk);
    fed += chunk.length;
    if (error !== undefined && fedAtError === -1) fedAtError = fed;
  }
  parser.end();
  expect(errors).toBeLessThanOrEqual(1);
  return { fed: fedAtError, error };
}

describe('defaults', () => {
  it('documents the post-authentication and pre-authentication budgets', () => {
    expect(DEFAULT_LIMITS.maxStanzaBytes).toBe(262_144);
    expect(PREAUTH_LIMITS.maxStanzaBytes).toBe(8192);
    for (const limits of [DEFAULT_LIMITS, PREAUTH_LIMITS]) {
      for (const value of Object.values(limits)) expect(Number.isInteger(value) && value > 0).toBe(true);
    }
    expect(Object.isFrozen(DEFAULT_LIMITS)).toBe(true);
  });

  it('rejects nonsensical limits with a RangeError', () => {
    const events = { streamStart() {}, element() {}, streamEnd() {}, error() {} };
    expect(() => new StreamParser(events, { maxDepth: 0 })).toThrow(RangeError);
    expect(() => new StreamParser(events, { maxStanzaBytes: Infinity })).toThrow(RangeError);
    expect(() => new StreamParser(events, { maxAttributes: 1.5 })).toThrow(RangeError);
    const parser = new StreamParser(events);
    expect(() => parser.setLimits({ maxNameLength: -1 })).toThrow(RangeError);
    expect(parser.currentLimits.maxNameLength).toBe(DEFAULT_LIMITS.maxNameLength);
  });

  it('uses a frozen, complete set of limits as it is (one shared copy for every connection), still checked', () => {
    const events = { streamStart() {}, element() {}, streamEnd() {}, error() {} };
    const parser = new StreamParser(events, PREAUTH_LIMITS);
    expect(parser.currentLimits).toBe(PREAUTH_LIMITS);
    parser.setLimits(DEFAULT_LIMITS);
    expect(parser.currentLimits).toBe(DEFAULT_LIMITS);
    expect(() => new StreamParser(events, Object.freeze({ ...PREAUTH_LIMITS, maxDepth: 0 }))).toThrow(RangeError);
    // A partial or unfrozen set is merged onto a copy, never shared or changed.
    const partial = { maxDepth: 3 };
    const merged = new StreamParser(events, partial).currentLimits;
    expect(merged).not.toBe(partial);
    expect(merged).toEqual({ ...DEFAULT_LIMITS, maxDepth: 3 });
  });
});

describe('stanza byte budget', () => {
  it('a 4 MiB unterminated attribute fed in 1 KiB chunks fails as soon as the budget is crossed', () => {
    const prefix = Buffer.from(CLIENT_HEADER + "<message id='");
    const stanzaStart = Buffer.byteLength(CLIENT_HEADER);
    const input = Buffer.concat([prefix, Buffer.alloc(4 * 1024 * 1024, 0x61)]);
    const { fed, error } = bytesFedAtError(chunked(input, 1024));
    expect(error?.condition).toBe('policy-violation');
    expect(error?.code).toBe('XML_LIMIT_STANZA_BYTES');
    // Reported in the very chunk that carried the first byte over budget.
    const firstByteOver = stanzaStart + DEFAULT_LIMITS.maxStanzaBytes + 1;
    expect(fed).toBeGreaterThanOrEqual(firstByteOver);
    expect(fed).toBeLessThan(firstByteOver + 1024);
  });

  it('counts the bytes of the stanza in progress as they arrive', () => {
    const t = newTranscript();
    const parser = recordingParser(t);
    parser.write(Buffer.from(CLIENT_HEADER));
    expect(parser.bytesInCurrentStanza).toBe(0);
    parser.write(Buffer.from("<message id='"));
    expect(parser.bytesInCurrentStanza).toBe(13);
    for (let i = 1; i <= 100; i++) {
      parser.write(Buffer.alloc(1000, 0x61));
      expect(parser.bytesInCurrentStanza).toBe(13 + i * 1000);
    }
    parser.write(Buffer.from("'/>"));
    expect(parser.bytesInCurrentStanza).toBe(0);
    expect(t.elements[0]!.attrs.id).toHaveLength(100_000);
  });

  it(
    'feeding a 4 MiB attribute in 4096 chunks is linear (no re-scan of accumulated bytes)',
    () => {
      const value = Buffer.alloc(4 * 1024 * 1024, 0x62);
      const input = Buffer.concat([Buffer.from(CLIENT_HEADER + "<message id='"), value, Buffer.from("'/>")]);
      const t = parseChunks(chunked(input, 1024), { maxStanzaBytes: 8 * 1024 * 1024 });
      expect(t.errors).toEqual([]);
      expect(t.elements).toHaveLength(1);
      expect(t.elements[0]!.attrs.id).toHaveLength(value.length);
    },
    20_000,
  );

  it('accepts a stanza of exactly the budget and rejects one byte more, at every split', () => {
    const stanza = (n: number): string => {
      const open = "<message id='";
      const close = "'/>";
      return open + 'x'.repeat(n - open.length - close.length) + close;
    };
    const limits = { maxStanzaBytes: 64 };
    const exact = Buffer.from(CLIENT_HEADER + stanza(64) + stanza(64));
    const over = Buffer.from(CLIENT_HEADER + stanza(64) + stanza(65));
    expect(parseWhole(exact, limits).elements).toHaveLength(2);
    const overEvents = parseWhole(over, limits).events;
    expect(overEvents.at(-1)).toEqual({ type: 'error', condition: 'policy-violation', code: 'XML_LIMIT_STANZA_BYTES' });
    for (const chunks of splits(exact, false)) expect(parseChunks(chunks, limits).elements).toHaveLength(2);
    for (const chunks of splits(over, false)) expect(parseChunks(chunks, limits).events).toEqual(overEvents);
  });

  it('bounds the closing tag of the stream like a stanza', () => {
    const t = parseWhole(CLIENT_HEADER + '</stream:stream' + ' '.repeat(100), { maxStanzaBytes: 64 });
    expect(t.errors[0]?.code).toBe('XML_LIMIT_STANZA_BYTES');
  });

  it('whitespace keepalives between stanzas count towards nothing and are not kept', () => {
    const t = newTranscript();
    const parser = recordingParser(t, PREAUTH_LIMITS);
    parser.write(Buffer.from(CLIENT_HEADER));
    const keepalives = Buffer.alloc(64 * 1024, 0x20);
    keepalives.fill('\n', 0, 1).fill('\t', 100, 101).fill('\r', 200, 201);
    for (let i = 0; i < 128; i++) {
      parser.write(keepalives); // 8 MiB in total, a thousand times the pre-auth budget
      expect(parser.bytesInCurrentStanza).toBe(0);
    }
    parser.write(Buffer.from("<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq> \n</stream:stream>"));
    expect(t.errors).toEqual([]);
    expect(t.events.map((e) => e.type)).toEqual(['start', 'element', 'end']);
  });

  it('the pre-authentication budget is switched to the post-authentication one at runtime', () => {
    const big = `<message><body>${'x'.repeat(20_000)}</body></message>`;
    const preauth = parseWhole(CLIENT_HEADER + big, PREAUTH_LIMITS);
    expect(preauth.errors[0]?.code).toBe('XML_LIMIT_STANZA_BYTES');

    // SASL success → stream restart with the larger budget (RFC 6120 §6.4.6).
    const t = newTranscript();
    const parser = recordingParser(t, PREAUTH_LIMITS);
    parser.write(Buffer.from(CLIENT_HEADER + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>"));
    parser.reset();
    parser.setLimits(DEFAULT_LIMITS);
    parser.write(Buffer.from(CLIENT_HEADER + big));
    expect(t.errors).toEqual([]);
    expect(t.elements).toHaveLength(2);
    expect(parser.currentLimits.maxStanzaBytes).toBe(DEFAULT_LIMITS.maxStanzaBytes);
  });
});

describe('stream header budget', () => {
  it('rejects an oversized header as it arrives', () => {
    const header = `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='${'a'.repeat(10_000)}'>`;
    const { fed, error } = bytesFedAtError(chunked(Buffer.from(header), 512));
    expect(error?.code).toBe('XML_LIMIT_HEADER_BYTES');
    expect(error?.condition).toBe('policy-violation');
    expect(fed).toBeLessThanOrEqual(DEFAULT_LIMITS.maxStreamHeaderBytes + 512);
  });

  it('bounds an endless XML declaration', () => {
    const t = parseWhole("<?xml version='1.0'" + ' '.repeat(10_000));
    expect(t.errors[0]?.code).toBe('XML_LIMIT_HEADER_BYTES');
  });

  it('gives the header its own budget, separate from stanzas', () => {
    const header = `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' id='${'i'.repeat(2000)}'>`;
    const t = parseWhole(header + '<presence/>', { maxStanzaBytes: 100 });
    expect(t.errors).toEqual([]);
    expect(t.elements).toHaveLength(1);
  });
});

describe('depth', () => {
  it('refuses 100 000 nested elements without overflowing the stack', () => {
    const t = parseWhole(CLIENT_HEADER + '<a>'.repeat(100_000));
    expect(t.errors).toHaveLength(1);
    expect(t.errors[0]!.code).toBe('XML_LIMIT_DEPTH');
    expect(t.errors[0]!.condition).toBe('policy-violation');
  });

  it('allows exactly maxDepth levels below the stream root', () => {
    const nested = (n: number): string => '<a>'.repeat(n) + '</a>'.repeat(n);
    expect(parseWhole(CLIENT_HEADER + nested(DEFAULT_LIMITS.maxDepth)).elements).toHaveLength(1);
    expect(parseWhole(CLIENT_HEADER + nested(DEFAULT_LIMITS.maxDepth + 1)).errors[0]?.code).toBe('XML_LIMIT_DEPTH');
    expect(() => parseElement(nested(DEFAULT_LIMITS.maxDepth))).not.toThrow();
    expect(() => parseElement(nested(DEFAULT_LIMITS.maxDepth + 1))).toThrow(/deeper/);
  });

  it('parses and serializes 100 000 levels when allowed: nothing is recursive', () => {
    const depth = 100_000;
    const input = '<a>'.repeat(depth) + 'x' + '</a>'.repeat(depth);
    const el = parseElement(input, { limits: { maxDepth: depth, maxStanzaBytes: 1024 * 1024 } });
    let deepest = el;
    let levels = 1;
    let brokenParentLinks = 0;
    while (deepest.children.length > 0 && typeof deepest.children[0] !== 'string') {
      const child = deepest.children[0] as typeof el;
      if (child.parent !== deepest) brokenParentLinks++;
      deepest = child;
      levels++;
    }
    expect(levels).toBe(depth);
    expect(brokenParentLinks).toBe(0);
    expect(deepest.getText()).toBe('x');
    expect(serialize(el)).toBe(input);
  });
});

describe('attributes, names and text', () => {
  it('refuses 10 000 attributes', () => {
    const attrs = Array.from({ length: 10_000 }, (_, i) => ` a${i}=''`).join('');
    const t = parseWhole(CLIENT_HEADER + `<message${attrs}/>`);
    expect(t.errors[0]?.code).toBe('XML_LIMIT_ATTRIBUTES');
    expect(t.errors[0]?.condition).toBe('policy-violation');
  });

  it('allows exactly maxAttributes, namespace declarations included', () => {
    const attrs = (n: number): string => " xmlns='urn:x'" + Array.from({ length: n - 1 }, (_, i) => ` a${i}='${i}'`).join('');
    expect(parseWhole(CLIENT_HEADER + `<m${attrs(64)}/>`).elements).toHaveLength(1);
    expect(parseWhole(CLIENT_HEADER + `<m${attrs(65)}/>`).errors[0]?.code).toBe('XML_LIMIT_ATTRIBUTES');
  });

  it('handles 10 000 attributes in linear time when the limit allows them', () => {
    const attrs = Array.from({ length: 10_000 }, (_, i) => ` a${i}='${i}'`).join('');
    const el = parseElement(`<m${attrs}/>`, { limits: { maxAttributes: 10_000 } });
    expect(Object.keys(el.attrs)).toHaveLength(10_000);
    expect(el.attrs.a9999).toBe('9999');
  });

  it('refuses a 64 KiB element name as soon as the name passes the limit', () => {
    const input = Buffer.from(CLIENT_HEADER + '<' + 'n'.repeat(64 * 1024) + '/>');
    const { fed, error } = bytesFedAtError(chunked(input, 100));
    expect(error?.code).toBe('XML_LIMIT_NAME_LENGTH');
    expect(error?.condition).toBe('policy-violation');
    expect(fed).toBeLessThanOrEqual(Buffer.byteLength(CLIENT_HEADER) + 1 + DEFAULT_LIMITS.maxNameLength + 100);
  });

  it('refuses 64 KiB attribute and end-tag names', () => {
    const long = 'n'.repeat(64 * 1024);
    expect(parseWhole(CLIENT_HEADER + `<message ${long}='1'/>`).errors[0]?.code).toBe('XML_LIMIT_NAME_LENGTH');
    expect(parseWhole(CLIENT_HEADER + `<message></${long}>`).errors[0]?.code).toBe('XML_LIMIT_NAME_LENGTH');
    // In the header the header budget bites first: still a policy violation.
    expect(parseWhole(`<${long}>`).errors[0]?.condition).toBe('policy-violation');
  });

  it('allows names of exactly maxNameLength bytes (multibyte characters count as bytes)', () => {
    const name = 'é'.repeat(DEFAULT_LIMITS.maxNameLength / 2);
    expect(parseElement(`<${name}/>`).name).toBe(name);
    expect(() => parseElement(`<${name}x/>`)).toThrow(/name longer/);
  });

  it('limits one text node, CDATA and references included, at every split', () => {
    const limits = { maxTextLength: 40 };
    const ok = Buffer.from(CLIENT_HEADER + '<m>' + 'a'.repeat(10) + '<![CDATA[' + 'b'.repeat(10) + ']]>' + '&amp;'.repeat(4) + '</m>');
    const over = Buffer.from(CLIENT_HEADER + '<m>' + 'a'.repeat(20) + '<![CDATA[' + 'b'.repeat(20) + ']]>' + 'c' + '</m>');
    expect(parseWhole(ok, limits).elements[0]?.getText()).toBe('a'.repeat(10) + 'b'.repeat(10) + '&&&&');
    for (const chunks of splits(over, false)) {
      expect(parseChunks(chunks, limits).errors[0]?.code).toBe('XML_LIMIT_TEXT_LENGTH');
    }
    // Separate text nodes each have their own budget.
    const twoNodes = CLIENT_HEADER + '<m>' + 'a'.repeat(40) + '<br/>' + 'b'.repeat(40) + '</m>';
    expect(parseWhole(twoNodes, limits).errors).toEqual([]);
  });
});

import fc from 'fast-check';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import { Element, isXmlStreamError, parseElement, serialize, xml } from '../src/index.js';
import type { ParseEvent } from './helpers.js';
import { CLIENT_HEADER, parseChunks, parseWhole, splitAt } from './helpers.js';

// Pieces that exercise every tokenizer state, including the invalid and restricted ones.
const TOKENS = [
  '<', '>', '/', '/>', '</', '=', "'", '"', ' ', '\t', '\n', '\r', '\r\n', ':', 'a', 'b', 'x', 'message', 'body',
  'stream:stream', 'p:', 'xmlns', 'xmlns:p', "xmlns:p='urn:p'", "xmlns='urn:d'", "a='1'", 'b="2"', 'xml:lang',
  '&', ';', '&amp;', '&lt;', '&#', '&#x', '&#65;', '&#x1F600;', '&#0;', '&foo;', '#', '0', '9', 'F',
  '<![CDATA[', ']]>', ']', '[', '<!--', '-->', '<!DOCTYPE', '<?', '?>', '<?xml', " version='1.0'", '?',
  'é', '😀', '日本', '\u0000', '\u001b', '\uFFFE', '__proto__', 'constructor',
];
const RAW_BYTES = [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xff], [0xef, 0xbb, 0xbf], [0xfe, 0xff], [0x00]];

const piece = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...TOKENS).map((t) => Buffer.from(t, 'utf8')) },
  { weight: 1, arbitrary: fc.constantFrom(...RAW_BYTES).map((b) => Buffer.from(b)) },
);
const soup = fc.array(piece, { maxLength: 60 }).map((pieces) => Buffer.concat(pieces));
const withHeader = soup.map((body) => Buffer.concat([Buffer.from(CLIENT_HEADER), body]));
const anyBytes = fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u));

/** Split points as fractions, so they scale to whatever input they are applied to. */
const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 });
function cutAt(input: Buffer, fractions: number[]): Buffer[] {
  const offsets = [...new Set(fractions.map((f) => Math.floor(f * input.length)))].sort((a, b) => a - b);
  return splitAt(input, offsets);
}

function eventsOf(chunks: Buffer[]): ParseEvent[] {
  return parseChunks(chunks).events;
}

function assertConsistent(input: Buffer, fractions: number[]): void {
  const whole = parseWhole(input);
  // At most one error, and it is the last event.
  expect(whole.errors.length).toBeLessThanOrEqual(1);
  if (whole.errors.length === 1) expect(whole.events.at(-1)!.type).toBe('error');
  expect(eventsOf(cutAt(input, fractions))).toEqual(whole.events);
}

describe('fuzz: any input, any chunking', () => {
  it('random bytes: never throws, same events for any chunking', () => {
    fc.assert(fc.property(anyBytes, cuts, assertConsistent), { numRuns: 500 });
  });

  it('XML-ish token soup: never throws, same events for any chunking', () => {
    fc.assert(fc.property(soup, cuts, assertConsistent), { numRuns: 1500 });
  });

  it('token soup inside an open stream: never throws, same events for any chunking', () => {
    fc.assert(fc.property(withHeader, cuts, assertConsistent), { numRuns: 1500 });
  });

  it('mutated valid streams: never throws, same events for any chunking', () => {
    const valid = Buffer.from(
      "<?xml version='1.0'?>" +
        CLIENT_HEADER +
        "<message to='juliet@example.com' id='a&amp;1'><body>Hi &lt;3 😀 é<![CDATA[<x>]]></body>" +
        "<active xmlns='http://jabber.org/protocol/chatstates'/></message>\n" +
        "<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq><r xmlns='urn:xmpp:sm:3'/></stream:stream>",
    );
    const mutation = fc.record({
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      op: fc.constantFrom('delete', 'insert', 'replace'),
      byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x3c, 0x3e, 0x26, 0x2f, 0x27, 0x22, 0x3a)),
    });
    const mutated = fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => {
      const bytes = [...valid];
      for (const m of ms) {
        const i = Math.min(bytes.length - 1, Math.floor(m.at * bytes.length));
        if (m.op === 'delete') bytes.splice(i, 1);
        else if (m.op === 'insert') bytes.splice(i, 0, m.byte);
        else bytes[i] = m.byte;
      }
      return Buffer.from(bytes);
    });
    fc.assert(fc.property(mutated, cuts, assertConsistent), { numRuns: 1000 });
  });

  it('parseElement never throws anything but XmlStreamError', () => {
    fc.assert(
      fc.property(fc.oneof(soup, anyBytes), (input) => {
        try {
          parseElement(input);
        } catch (e) {
          expect(isXmlStreamError(e)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

// --- Differential check against saxes, a strict XML 1.0 + namespaces parser ---------------------

interface PlainNode {
  name: string;
  attrs: Array<[string, string]>;
  children: Array<PlainNode | string>;
}

/** Parses with saxes; 'restricted' when it met a construct RFC 6120 forbids but XML allows. */
function saxesParse(text: string): PlainNode | 'rejected' | 'restricted' {
  const parser = new SaxesParser({ xmlns: true });
  const stack: PlainNode[] = [];
  let root: PlainNode | null = null;
  let restricted = false;
  let failed = false;
  const addText = (t: string): void => {
    const top = stack.at(-1);
    if (!top || t === '') return;
    const last = top.children.at(-1);
    if (typeof last === 'string') top.children[top.children.length - 1] = last + t;
    else top.children.push(t);
  };
  parser.on('error', () => {
    failed = true;
  });
  parser.on('doctype', () => (restricted = true));
  parser.on('comment', () => (restricted = true));
  parser.on('processinginstruction', () => (restricted = true));
  parser.on('xmldecl', (decl) => {
    if (decl.version !== '1.0') restricted = true;
  });
  parser.on('opentag', (tag) => {
    const node: PlainNode = { name: tag.name, attrs: Object.values(tag.attributes).map((a) => [a.name, a.value]), children: [] };
    const parent = stack.at(-1);
    if (parent) parent.children.push(node);
    else root = node;
    if (!tag.isSelfClosing) stack.push(node);
  });
  parser.on('closetag', (tag) => {
    if (!tag.isSelfClosing) stack.pop();
  });
  parser.on('text', addText);
  parser.on('cdata', addText);
  try {
    parser.write(text).close();
  } catch {
    failed = true;
  }
  if (failed) return restricted ? 'restricted' : 'rejected';
  if (restricted) return 'restricted';
  return root ?? 'rejected';
}

function plain(el: Element): PlainNode {
  return {
    name: el.name,
    attrs: Object.entries(el.attrs as Record<string, string>),
    children: el.children.map((c) => (typeof c === 'string' ? c : plain(c))),
  };
}

const docPiece = fc.constantFrom(
  '<a>', '</a>', '<b/>', '<p:c>', '</p:c>', "<a x='1'>", '<a x="1" y=\'2\'>', "<a p:x='1'>", "<a p:x='1' q:x='2'>",
  "<a xmlns:p='urn:p'>", "<a xmlns:q='urn:p'>", "<a xmlns='urn:d'>", "<a xmlns=''>", "<a xml:lang='en'>",
  'text', ' ', '\n', '\r\n', '\r', '&amp;', '&lt;', '&#x41;', '&#0;', '&bogus;', '&', ']]>', ']]', '<![CDATA[x]]>',
  '<![CDATA[]]]]>', '<!-- c -->', '<?pi x?>', 'é', '😀', '\u0085', "<a v='a\tb\nc'>", "<a v='&#9;'>", "<a x='1' x='2'>",
  '<a:b:c/>', '<:a/>', "<a xmlns:xml='urn:x'>", '\u0001', '</b>',
);
const document = fc
  .array(docPiece, { maxLength: 14 })
  .map((pieces) => `<root xmlns:p='urn:p'>${pieces.join('')}</root>`);

describe('differential: the same verdicts and trees as saxes', () => {
  it('accepts what a conforming parser accepts (minus RFC 6120 restrictions) and nothing else', () => {
    fc.assert(
      fc.property(document, (text) => {
        const reference = saxesParse(text);
        let ours: PlainNode | { condition: string };
        try {
          ours = plain(parseElement(text));
        } catch (e) {
          if (!isXmlStreamError(e)) throw e;
          ours = { condition: e.condition };
        }
        if (reference === 'rejected') {
          expect(ours).toHaveProperty('condition');
        } else if (reference === 'restricted') {
          expect(ours).toHaveProperty('condition');
        } else {
          expect(ours).toEqual(reference);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

// --- Round trip of generated elements ---------------------------------------------------------------

const xmlChar = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'Z', '0', ' ', '&', '<', '>', '"', "'", '\t', '\n', '\r', ']', ';', '#') },
  { weight: 2, arbitrary: fc.integer({ min: 0x20, max: 0xd7ff }).map((c) => String.fromCodePoint(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0xe000, max: 0xfffd }).map((c) => String.fromCodePoint(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)) },
);
const xmlText = fc.string({ unit: xmlChar, maxLength: 20 });
const localName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_.\-]{0,6}$/).filter((n) => !/^xml/i.test(n));
const elementName = fc.oneof({ weight: 4, arbitrary: localName }, { weight: 1, arbitrary: localName.map((n) => `p:${n}`) });
const attributes = fc
  .uniqueArray(fc.tuple(fc.oneof(localName, localName.map((n) => `p:${n}`), fc.constant('xml:lang')), xmlText), {
    maxLength: 4,
    selector: ([name]) => name,
  });

const { tree } = fc.letrec((tie) => ({
  tree: fc
    .tuple(elementName, attributes, fc.array(fc.oneof({ depthSize: 'small' }, xmlText, tie('tree')), { maxLength: 4 }))
    .map(([name, attrs, children]) => xml(name, Object.fromEntries(attrs), ...(children as Array<Element | string>))),
}));

/** Adjacent text nodes merge and empty ones vanish when XML is read back. */
function normalized(el: Element): PlainNode {
  const children: Array<PlainNode | string> = [];
  for (const child of el.children) {
    if (typeof child !== 'string') children.push(normalized(child));
    else if (child !== '') {
      const last = children.at(-1);
      if (typeof last === 'string') children[children.length - 1] = last + child;
      else children.push(child);
    }
  }
  return { name: el.name, attrs: Object.entries(el.attrs as Record<string, string>), children };
}

describe('round trip', () => {
  it('serialize → parseElement gives back the generated element', () => {
    fc.assert(
      fc.property(tree, (el) => {
        el.attrs['xmlns:p'] = 'urn:p'; // declare the prefix the generator uses
        const text = serialize(el);
        const back = parseElement(text);
        expect(normalized(back)).toEqual(normalized(el));
        expect(serialize(back)).toBe(text);
        // And through the stream parser, split anywhere.
        const stream = Buffer.from(CLIENT_HEADER.replace("xmlns='jabber:client' ", '') + text);
        const whole = parseWhole(stream);
        expect(whole.errors).toEqual([]);
        expect(serialize(whole.elements[0]!)).toBe(text);
        expect(parseChunks(cutAt(stream, [0.3, 0.61, 0.9])).events).toEqual(whole.events);
      }),
      { numRuns: 500 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import { isXmlStreamError, parseElement } from '../src/index.js';
import type { XmlErrorCondition } from '../src/index.js';
import { CLIENT_HEADER, bytewise, parseChunks, parseWhole, splits } from './helpers.js';

interface InvalidCase {
  name: string;
  /** Bytes fed to a StreamParser. */
  input: Buffer | string;
  condition: XmlErrorCondition;
  code?: string;
}

const b = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
const inStanza = (body: string | number[]): Buffer => b(CLIENT_HEADER, '<message><body>', body, '</body></message>');
const inAttr = (value: string | number[]): Buffer => b(CLIENT_HEADER, "<message id='", value, "'/>");

const BILLION_LAUGHS =
  '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n' +
  Array.from({ length: 9 }, (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">\n`).join('') +
  ']>\n<lolz>&lol9;</lolz>';

const restricted: InvalidCase[] = [
  { name: 'billion laughs DOCTYPE', input: BILLION_LAUGHS, condition: 'restricted-xml', code: 'XML_RESTRICTED' },
  { name: 'external entity DOCTYPE', input: '<!DOCTYPE a SYSTEM "file:///etc/passwd"><a>&xxe;</a>', condition: 'restricted-xml' },
  { name: 'DOCTYPE after the header', input: CLIENT_HEADER + '<!DOCTYPE x>', condition: 'restricted-xml' },
  { name: 'ENTITY declaration in a stanza', input: inStanza('<!ENTITY x "y">'), condition: 'restricted-xml' },
  { name: 'comment before the header', input: '<!-- hi -->' + CLIENT_HEADER, condition: 'restricted-xml' },
  { name: 'comment between stanzas', input: CLIENT_HEADER + '<!-- hi -->', condition: 'restricted-xml' },
  { name: 'comment in a stanza', input: inStanza('a<!-- hi -->b'), condition: 'restricted-xml', code: 'XML_RESTRICTED' },
  { name: 'processing instruction at start', input: '<?xml-stylesheet href="a"?>' + CLIENT_HEADER, condition: 'restricted-xml' },
  { name: 'processing instruction with other target', input: '<?php echo 1; ?>', condition: 'restricted-xml' },
  { name: 'processing instruction between stanzas', input: CLIENT_HEADER + '<?foo bar?>', condition: 'restricted-xml' },
  { name: 'processing instruction in a stanza', input: inStanza('<?foo?>'), condition: 'restricted-xml' },
  { name: 'XML declaration after whitespace', input: " <?xml version='1.0'?>" + CLIENT_HEADER, condition: 'restricted-xml' },
  { name: 'second XML declaration', input: "<?xml version='1.0'?><?xml version='1.0'?>", condition: 'restricted-xml' },
  { name: 'XML declaration after the header', input: CLIENT_HEADER + "<?xml version='1.0'?>", condition: 'restricted-xml' },
  { name: 'undeclared entity in text', input: inStanza('&foo;'), condition: 'restricted-xml', code: 'XML_RESTRICTED' },
  { name: 'undeclared entity in attribute', input: inAttr('&foo;'), condition: 'restricted-xml' },
  { name: 'undeclared long entity', input: inStanza('&quote;'), condition: 'restricted-xml' },
  { name: 'undeclared non-ASCII entity', input: inStanza('&é;'), condition: 'restricted-xml' },
  { name: 'HTML entity', input: inStanza('&nbsp;'), condition: 'restricted-xml' },
];

const encoding: InvalidCase[] = [
  { name: 'UTF-16LE BOM', input: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(CLIENT_HEADER, 'utf16le')]), condition: 'unsupported-encoding', code: 'XML_UNSUPPORTED_ENCODING' },
  { name: 'UTF-16BE BOM', input: Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(CLIENT_HEADER, 'utf16le').swap16()]), condition: 'unsupported-encoding' },
  { name: 'UTF-16LE without BOM', input: Buffer.from(CLIENT_HEADER, 'utf16le'), condition: 'unsupported-encoding' },
  { name: 'UTF-16BE without BOM', input: Buffer.from(CLIENT_HEADER, 'utf16le').swap16(), condition: 'unsupported-encoding' },
  { name: 'UTF-32LE BOM', input: b([0xff, 0xfe, 0x00, 0x00], [0x3c, 0, 0, 0]), condition: 'unsupported-encoding' },
  { name: 'UTF-32BE BOM', input: b([0x00, 0x00, 0xfe, 0xff], [0, 0, 0, 0x3c]), condition: 'unsupported-encoding' },
  { name: 'encoding ISO-8859-1', input: "<?xml version='1.0' encoding='ISO-8859-1'?>" + CLIENT_HEADER, condition: 'unsupported-encoding' },
  { name: 'encoding UTF-16', input: '<?xml version="1.0" encoding="UTF-16"?>' + CLIENT_HEADER, condition: 'unsupported-encoding' },
  { name: 'XML 1.1', input: "<?xml version='1.1'?>" + CLIENT_HEADER, condition: 'unsupported-version', code: 'XML_UNSUPPORTED_VERSION' },
  { name: 'XML 1.1 with UTF-8', input: '<?xml version="1.1" encoding="UTF-8"?>' + CLIENT_HEADER, condition: 'unsupported-version' },
  { name: 'XML 2.0', input: "<?xml version='2.0'?>" + CLIENT_HEADER, condition: 'unsupported-version' },
  { name: 'declaration without version', input: "<?xml encoding='UTF-8'?>" + CLIENT_HEADER, condition: 'not-well-formed' },
  { name: 'declaration without whitespace', input: '<?xml?>' + CLIENT_HEADER, condition: 'not-well-formed' },
  { name: 'declaration with bad standalone', input: "<?xml version='1.0' standalone='maybe'?>", condition: 'not-well-formed' },
];

const utf8: InvalidCase[] = [
  { name: 'overlong 2-byte slash', input: inStanza([0xc0, 0xaf]), condition: 'not-well-formed', code: 'XML_INVALID_UTF8' },
  { name: 'overlong 2-byte C1', input: inStanza([0xc1, 0xbf]), condition: 'not-well-formed', code: 'XML_INVALID_UTF8' },
  { name: 'overlong 3-byte', input: inStanza([0xe0, 0x80, 0xaf]), condition: 'not-well-formed', code: 'XML_INVALID_UTF8' },
  { name: 'overlong 4-byte', input: inStanza([0xf0, 0x80, 0x80, 0xaf]), condition: 'not-well-formed', code: 'XML_INVALID_UTF8' },
  { name: 'UTF-8 encoded high surrogate', input: inStanza([0xed, 0xa0, 0x80]), condition: 'not-well-formed', code: 'XML_INVALID_UTF8' },
  { name: 'UTF-8 encoded low surrogate', input: inStanza([0xed, 0xbf, 0xbf]), condition: 'not-well-formed', code: 'XML_INVALID_UTF8' },
  { name: 'surrogate pair encoded as CESU-8', input: inStanza([0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]), condition: 'not-well-formed' },
  { name: 'above U+10FFFF (F4 90)', input: inStanza([0xf4, 0x90, 0x80, 0x80]), condition: 'not-well-formed', code: 'XML_INVALID_UTF8' },
  { name: 'F5 lead byte', input: inStanza([0xf5, 0x80, 0x80, 0x80]), condition: 'not-well-formed' },
  { name: 'FF byte in text', input: inStanza([0xff]), condition: 'not-well-formed' },
  { name: 'stray continuation byte', input: inStanza([0x80]), condition: 'not-well-formed', code: 'XML_INVALID_UTF8' },
  { name: 'truncated sequence before ASCII', input: inStanza([0xc3, 0x41]), condition: 'not-well-formed', code: 'XML_INVALID_UTF8' },
  { name: 'truncated 3-byte sequence before <', input: inStanza([0xe2, 0x82]), condition: 'not-well-formed', code: 'XML_INVALID_UTF8' },
  { name: 'truncated sequence at end of input', input: b(CLIENT_HEADER, '<message><body>', [0xe2, 0x82]), condition: 'not-well-formed', code: 'XML_TRUNCATED' },
  { name: 'invalid UTF-8 in attribute', input: inAttr([0xc0, 0x80]), condition: 'not-well-formed', code: 'XML_INVALID_UTF8' },
  { name: 'invalid UTF-8 in name', input: b(CLIENT_HEADER, '<mess', [0xc0, 0x80], 'age/>'), condition: 'not-well-formed' },
  { name: 'non-ASCII between stanzas', input: b(CLIENT_HEADER, 'é'), condition: 'not-well-formed' },
  { name: 'U+FFFE', input: inStanza([0xef, 0xbf, 0xbe]), condition: 'not-well-formed', code: 'XML_INVALID_UTF8' },
  { name: 'U+FFFF in attribute', input: inAttr([0xef, 0xbf, 0xbf]), condition: 'not-well-formed' },
];

const chars: InvalidCase[] = [
  { name: 'NUL in text', input: inStanza([0x00]), condition: 'not-well-formed', code: 'XML_INVALID_CHAR' },
  { name: 'ESC in text', input: inStanza([0x1b]), condition: 'not-well-formed', code: 'XML_INVALID_CHAR' },
  { name: 'vertical tab in text', input: inStanza([0x0b]), condition: 'not-well-formed', code: 'XML_INVALID_CHAR' },
  { name: 'NUL in attribute', input: inAttr([0x00]), condition: 'not-well-formed', code: 'XML_INVALID_CHAR' },
  { name: 'ESC in attribute', input: inAttr([0x1b]), condition: 'not-well-formed', code: 'XML_INVALID_CHAR' },
  { name: 'ESC in CDATA', input: inStanza([0x3c, 0x21, 0x5b, ...Buffer.from('CDATA['), 0x1b, ...Buffer.from(']]>')]), condition: 'not-well-formed' },
  { name: 'NUL between stanzas', input: b(CLIENT_HEADER, [0x00]), condition: 'not-well-formed' },
  { name: 'NUL in a name', input: b(CLIENT_HEADER, '<mes', [0x00], 'sage/>'), condition: 'not-well-formed' },
  { name: 'reference &#0;', input: inStanza('&#0;'), condition: 'not-well-formed', code: 'XML_INVALID_CHAR' },
  { name: 'reference &#x1B;', input: inStanza('&#x1B;'), condition: 'not-well-formed', code: 'XML_INVALID_CHAR' },
  { name: 'reference &#xFFFE;', input: inStanza('&#xFFFE;'), condition: 'not-well-formed' },
  { name: 'reference &#xD800;', input: inStanza('&#xD800;'), condition: 'not-well-formed' },
  { name: 'reference &#x110000;', input: inStanza('&#x110000;'), condition: 'not-well-formed' },
  { name: 'huge decimal reference', input: inAttr('&#99999999999999999999999;'), condition: 'not-well-formed' },
  { name: 'empty reference &#;', input: inStanza('&#;'), condition: 'not-well-formed' },
  { name: 'empty hex reference &#x;', input: inStanza('&#x;'), condition: 'not-well-formed' },
  { name: 'bad digit in reference', input: inStanza('&#12a;'), condition: 'not-well-formed' },
  { name: 'uppercase X in reference', input: inStanza('&#X41;'), condition: 'not-well-formed' },
  { name: 'unterminated &amp', input: inStanza('&amp x'), condition: 'not-well-formed' },
  { name: 'bare ampersand', input: inStanza('a & b'), condition: 'not-well-formed' },
  { name: 'empty entity &;', input: inAttr('&;'), condition: 'not-well-formed' },
];

const wellFormedness: InvalidCase[] = [
  { name: 'mismatched tags', input: CLIENT_HEADER + '<message><body></message>', condition: 'not-well-formed', code: 'XML_MISMATCHED_TAG' },
  { name: 'mismatched stream end tag', input: CLIENT_HEADER + '</stream:foo>', condition: 'not-well-formed', code: 'XML_MISMATCHED_TAG' },
  { name: 'end tag before any start tag', input: '</stream:stream>', condition: 'not-well-formed' },
  { name: 'duplicate attribute', input: CLIENT_HEADER + "<message id='1' id='2'/>", condition: 'not-well-formed', code: 'XML_DUPLICATE_ATTRIBUTE' },
  { name: 'duplicate attribute after namespace resolution', input: CLIENT_HEADER + "<x xmlns:a='urn:u' xmlns:b='urn:u' a:y='1' b:y='2'/>", condition: 'not-well-formed', code: 'XML_DUPLICATE_ATTRIBUTE' },
  { name: 'duplicate attribute among the first eight', input: CLIENT_HEADER + "<m a='1' b='1' c='1' d='1' e='1' f='1' g='1' a='2'/>", condition: 'not-well-formed', code: 'XML_DUPLICATE_ATTRIBUTE' },
  { name: 'duplicate attribute after the first eight', input: CLIENT_HEADER + "<m a='1' b='1' c='1' d='1' e='1' f='1' g='1' h='1' i='1' j='1' c='2'/>", condition: 'not-well-formed', code: 'XML_DUPLICATE_ATTRIBUTE' },
  { name: 'duplicate long (not interned) attribute name', input: CLIENT_HEADER + `<m ${'n'.repeat(60)}='1' ${'n'.repeat(60)}='2'/>`, condition: 'not-well-formed', code: 'XML_DUPLICATE_ATTRIBUTE' },
  { name: 'duplicate namespace declaration', input: CLIENT_HEADER + "<x xmlns='a' xmlns='b'/>", condition: 'not-well-formed', code: 'XML_DUPLICATE_ATTRIBUTE' },
  { name: 'duplicate attribute on the header', input: "<stream:stream xmlns:stream='s' to='a' to='b'>", condition: 'not-well-formed' },
  { name: 'unquoted attribute', input: CLIENT_HEADER + '<message id=1/>', condition: 'not-well-formed' },
  { name: 'attribute without value', input: CLIENT_HEADER + '<message id/>', condition: 'not-well-formed' },
  { name: 'attributes not separated', input: CLIENT_HEADER + "<message a='1'b='2'/>", condition: 'not-well-formed' },
  { name: '< in attribute value', input: inAttr('a<b'), condition: 'not-well-formed' },
  { name: 'space before element name', input: CLIENT_HEADER + '< message/>', condition: 'not-well-formed' },
  { name: 'digit starts element name', input: CLIENT_HEADER + '<1message/>', condition: 'not-well-formed' },
  { name: 'empty end tag', input: CLIENT_HEADER + '<message></>', condition: 'not-well-formed' },
  { name: 'space after slash', input: CLIENT_HEADER + '<message/ >', condition: 'not-well-formed' },
  { name: 'garbage in end tag', input: CLIENT_HEADER + '<message></message x>', condition: 'not-well-formed' },
  { name: ']]> in text', input: inStanza('a]]>b'), condition: 'not-well-formed' },
  { name: 'text between stanzas', input: CLIENT_HEADER + 'hello', condition: 'not-well-formed', code: 'XML_TEXT_OUTSIDE_STANZA' },
  { name: 'text after a stanza', input: CLIENT_HEADER + '<presence/> x', condition: 'not-well-formed', code: 'XML_TEXT_OUTSIDE_STANZA' },
  { name: 'reference between stanzas', input: CLIENT_HEADER + '&#32;', condition: 'not-well-formed' },
  { name: 'CDATA between stanzas', input: CLIENT_HEADER + '<![CDATA[ ]]>', condition: 'not-well-formed' },
  { name: 'text before the header', input: 'hi' + CLIENT_HEADER, condition: 'not-well-formed' },
  { name: 'malformed CDATA opener', input: inStanza('<![CDATX[x]]>'), condition: 'not-well-formed' },
  { name: 'malformed qualified name', input: CLIENT_HEADER + "<a:b:c xmlns:a='u'/>", condition: 'not-well-formed' },
  { name: 'empty prefix', input: CLIENT_HEADER + '<:a/>', condition: 'not-well-formed' },
  { name: 'empty local name', input: CLIENT_HEADER + "<a: xmlns:a='u'/>", condition: 'not-well-formed' },
  { name: 'empty prefix declaration', input: CLIENT_HEADER + "<a xmlns:='u'/>", condition: 'not-well-formed' },
  { name: 'truncated stanza at end of input', input: CLIENT_HEADER + '<message><body>hi', condition: 'not-well-formed', code: 'XML_TRUNCATED' },
  { name: 'truncated header at end of input', input: "<stream:stream xmlns:stream='s'", condition: 'not-well-formed', code: 'XML_TRUNCATED' },
  { name: 'truncated end tag at end of input', input: CLIENT_HEADER + '</stream:str', condition: 'not-well-formed', code: 'XML_TRUNCATED' },
];

const namespaces: InvalidCase[] = [
  { name: 'unbound element prefix', input: CLIENT_HEADER + '<foo:message/>', condition: 'bad-namespace-prefix', code: 'XML_UNBOUND_PREFIX' },
  { name: 'unbound attribute prefix', input: CLIENT_HEADER + "<message foo:id='1'/>", condition: 'bad-namespace-prefix', code: 'XML_UNBOUND_PREFIX' },
  { name: 'unbound prefix on the header', input: "<stream:stream xmlns='jabber:client'>", condition: 'bad-namespace-prefix' },
  { name: 'prefix used outside its scope', input: CLIENT_HEADER + "<a><b xmlns:p='u'/><p:c/></a>", condition: 'bad-namespace-prefix' },
  { name: 'xml prefix bound elsewhere', input: CLIENT_HEADER + "<a xmlns:xml='urn:other'/>", condition: 'bad-namespace-prefix', code: 'XML_BAD_NAMESPACE_DECLARATION' },
  { name: 'xmlns prefix declared', input: CLIENT_HEADER + "<a xmlns:xmlns='http://www.w3.org/2000/xmlns/'/>", condition: 'bad-namespace-prefix' },
  { name: 'other prefix bound to the XML namespace', input: CLIENT_HEADER + "<a xmlns:x='http://www.w3.org/XML/1998/namespace'/>", condition: 'bad-namespace-prefix' },
  { name: 'default namespace set to the xmlns namespace', input: CLIENT_HEADER + "<a xmlns='http://www.w3.org/2000/xmlns/'/>", condition: 'bad-namespace-prefix' },
  { name: 'prefix undeclared (XML 1.1 only)', input: CLIENT_HEADER + "<a xmlns:p=''/>", condition: 'bad-namespace-prefix' },
  { name: 'element with xmlns prefix', input: CLIENT_HEADER + '<xmlns:a/>', condition: 'bad-namespace-prefix' },
];

const ALL: Array<[string, InvalidCase[]]> = [
  ['restricted XML (RFC 6120 §11.1)', restricted],
  ['encoding and version (RFC 6120 §11.6, §11.8)', encoding],
  ['invalid UTF-8', utf8],
  ['characters XML 1.0 forbids', chars],
  ['well-formedness', wellFormedness],
  ['namespaces', namespaces],
];

function checkOneError(input: Buffer, c: InvalidCase): void {
  const t = parseWhole(input);
  expect(t.errors).toHaveLength(1);
  const err = t.errors[0]!;
  expect(isXmlStreamError(err)).toBe(true);
  expect(err.condition).toBe(c.condition);
  if (c.code !== undefined) expect(err.code).toBe(c.code);
  // The error is the last thing reported.
  expect(t.events[t.events.length - 1]).toEqual({ type: 'error', condition: err.condition, code: err.code });
}

for (const [title, cases] of ALL) {
  describe(title, () => {
    it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const input = typeof c.input === 'string' ? Buffer.from(c.input, 'utf8') : c.input;
      checkOneError(input, c);
      // The same events, whatever the chunking: every single split point, and byte by byte.
      const whole = parseWhole(input).events;
      for (const chunks of splits(input, false)) expect(parseChunks(chunks).events).toEqual(whole);
      expect(parseChunks(bytewise(input)).events).toEqual(whole);
    });
  });
}

describe('parseElement rejects the same input', () => {
  const elementCases: Array<[string, string | Buffer, XmlErrorCondition]> = [
    ['comment', '<a><!-- x --></a>', 'restricted-xml'],
    ['DOCTYPE', '<!DOCTYPE a><a/>', 'restricted-xml'],
    ['processing instruction', '<a><?p?></a>', 'restricted-xml'],
    ['undeclared entity', '<a>&foo;</a>', 'restricted-xml'],
    ['XML 1.1', "<?xml version='1.1'?><a/>", 'unsupported-version'],
    ['UTF-16', Buffer.from('<a/>', 'utf16le'), 'unsupported-encoding'],
    ['duplicate attribute', "<a b='1' b='2'/>", 'not-well-formed'],
    ['unbound prefix', '<p:a/>', 'bad-namespace-prefix'],
    ['second element', '<a/><b/>', 'not-well-formed'],
    ['text after the element', '<a/>x', 'not-well-formed'],
    ['comment after the element', '<a/><!-- x -->', 'not-well-formed'],
    ['unclosed element', '<a><b></b>', 'not-well-formed'],
    ['empty input', '', 'not-well-formed'],
    ['whitespace only', '  \n', 'not-well-formed'],
    ['text only', 'hello', 'not-well-formed'],
    ['lone surrogate in a string', '<a>\uD800</a>', 'not-well-formed'],
    ['NUL', '<a>\u0000</a>', 'not-well-formed'],
    ['overlong UTF-8', Buffer.from([0x3c, 0x61, 0x3e, 0xc0, 0xaf, 0x3c, 0x2f, 0x61, 0x3e]), 'not-well-formed'],
  ];
  it.each(elementCases)('%s', (_name, input, condition) => {
    let caught: unknown;
    try {
      parseElement(input);
    } catch (e) {
      caught = e;
    }
    expect(isXmlStreamError(caught)).toBe(true);
    expect((caught as { condition: string }).condition).toBe(condition);
  });
});

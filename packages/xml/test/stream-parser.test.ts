import { describe, expect, it } from 'vitest';
import { Element, StreamParser, isXmlStreamError, parseElement, serialize, xml, XmlStreamError } from '../src/index.js';
import { CLIENT_HEADER, STREAM_NS, newTranscript, parseWhole, recordingParser } from './helpers.js';

describe('lifecycle', () => {
  it('reports an error exactly once and ignores everything after it', () => {
    const t = newTranscript();
    const parser = recordingParser(t);
    parser.write(Buffer.from(CLIENT_HEADER + '<presence/><!-- no -->'));
    parser.write(Buffer.from('<presence/>'));
    parser.write(Buffer.from('<!-- again -->'));
    parser.end();
    parser.end();
    expect(t.events.map((e) => e.type)).toEqual(['start', 'element', 'error']);
    expect(t.errors).toHaveLength(1);
  });

  it('reset() forgets buffered partial input: a half stanza, a half character, a half header', () => {
    for (const partial of ['<message><bo', "<message id='x", '<message><body>&am', "<stream:stream xmlns:stream='x"]) {
      const t = newTranscript();
      const parser = recordingParser(t);
      parser.write(Buffer.from(CLIENT_HEADER));
      parser.write(Buffer.from(partial));
      parser.write(Buffer.from([0xe2, 0x82])); // an unfinished 3-byte character
      parser.reset();
      parser.write(Buffer.from("<?xml version='1.0'?>" + CLIENT_HEADER + '<presence/></stream:stream>'));
      parser.end();
      expect(t.errors).toEqual([]);
      expect(t.events.map((e) => e.type)).toEqual(['start', 'start', 'element', 'end']);
    }
  });

  it('reset() after an error starts a fresh stream', () => {
    const t = newTranscript();
    const parser = recordingParser(t);
    parser.write(Buffer.from(CLIENT_HEADER + '<a><b></a>'));
    expect(t.errors).toHaveLength(1);
    parser.reset();
    parser.write(Buffer.from(CLIENT_HEADER + '<presence/>'));
    expect(t.events.map((e) => e.type)).toEqual(['start', 'error', 'start', 'element']);
  });

  it('the stream header namespace bindings do not survive a restart', () => {
    const t = newTranscript();
    const parser = recordingParser(t);
    parser.write(Buffer.from(CLIENT_HEADER));
    parser.reset();
    parser.write(Buffer.from("<s:s xmlns:s='x'><stream:features/>"));
    expect(t.errors[0]?.condition).toBe('bad-namespace-prefix');
  });

  it('after an idle header (its attribute arrays given back), stanzas with many attributes and nesting parse as before', () => {
    const t = newTranscript();
    const parser = recordingParser(t);
    parser.write(Buffer.from(CLIENT_HEADER));
    const attrs = Array.from({ length: 20 }, (_, i) => ` a${i}='v${i}'`).join('');
    const stanza = `<message${attrs}><body>x</body><x xmlns='urn:a'><y><z q='1'/></y></x></message>`;
    parser.write(Buffer.from(stanza));
    parser.write(Buffer.from(`<presence/>${stanza}</stream:stream>`));
    expect(t.errors).toEqual([]);
    expect(t.events.map((e) => e.type)).toEqual(['start', 'element', 'element', 'element', 'end']);
    expect(t.elements[0]!.attrs.a19).toBe('v19');
    expect(serialize(t.elements[2]!)).toBe(serialize(t.elements[0]!));
    // The header's namespaces keep resolving stanzas after the restart too.
    parser.reset();
    parser.write(Buffer.from(CLIENT_HEADER + stanza));
    expect(t.errors).toEqual([]);
    expect(t.elements[3]!.getNS()).toBe('jabber:client');
  });

  it('end() between stanzas is quiet; inside a stanza, header or character it is not-well-formed', () => {
    expect(parseWhole(CLIENT_HEADER + '<presence/> ').errors).toEqual([]);
    expect(parseWhole('').events).toEqual([]);
    expect(parseWhole('  \n').events).toEqual([]);
    expect(parseWhole(CLIENT_HEADER + '<presence>').errors[0]?.code).toBe('XML_TRUNCATED');
    expect(parseWhole('<stream:stream').errors[0]?.code).toBe('XML_TRUNCATED');
    expect(parseWhole("<?xml version='1.0'").errors[0]?.code).toBe('XML_TRUNCATED');
    expect(parseWhole(Buffer.from([0xef, 0xbb])).errors[0]?.code).toBe('XML_TRUNCATED');
    expect(parseWhole(CLIENT_HEADER + '<').errors[0]?.code).toBe('XML_TRUNCATED');
  });

  it('ignores input after the stream closed, and end() then reports nothing', () => {
    const t = parseWhole(CLIENT_HEADER + '</stream:stream><garbage & more <!-- -->');
    expect(t.events.map((e) => e.type)).toEqual(['start', 'end']);
  });

  it('a self-closing root is streamStart then streamEnd', () => {
    const t = parseWhole("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0'/>");
    expect(t.events.map((e) => e.type)).toEqual(['start', 'end']);
  });

  it('accepts any root and reports it for the caller to judge', () => {
    const t = parseWhole("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'><x/>");
    expect(t.headers[0]).toMatchObject({ name: 'open', localName: 'open', namespace: 'urn:ietf:params:xml:ns:xmpp-framing' });
    expect(t.elements[0]!.getNS()).toBe('urn:ietf:params:xml:ns:xmpp-framing');
  });

  it('describes the header: qualified name, local name, namespace, attributes and declarations', () => {
    const t = parseWhole(CLIENT_HEADER);
    const header = t.headers[0]!;
    expect(header.name).toBe('stream:stream');
    expect(header.localName).toBe('stream');
    expect(header.namespace).toBe(STREAM_NS);
    expect({ ...header.attrs }).toEqual({ xmlns: 'jabber:client', 'xmlns:stream': STREAM_NS, to: 'example.com', version: '1.0' });
    expect({ ...header.namespaces }).toEqual({ '': 'jabber:client', stream: STREAM_NS });
    expect(Object.getPrototypeOf(header.attrs)).toBeNull();
    expect(Object.getPrototypeOf(header.namespaces)).toBeNull();
  });

  it('accepts Uint8Array chunks and ignores empty ones', () => {
    const t = newTranscript();
    const parser = recordingParser(t);
    const bytes = new TextEncoder().encode(CLIENT_HEADER + '<presence/>');
    parser.write(new Uint8Array(0));
    parser.write(bytes.subarray(0, 10));
    parser.write(new Uint8Array(0));
    parser.write(bytes.subarray(10));
    expect(t.events.map((e) => e.type)).toEqual(['start', 'element']);
  });

  it("lets an exception from the caller's own callback propagate, then stops", () => {
    const failure = new Error('handler bug');
    let elements = 0;
    let errors = 0;
    const parser = new StreamParser({
      streamStart() {},
      element() {
        elements++;
        throw failure;
      },
      streamEnd() {},
      error() {
        errors++;
      },
    });
    expect(() => parser.write(Buffer.from(CLIENT_HEADER + '<a/><b/>'))).toThrow(failure);
    parser.write(Buffer.from('<c/>'));
    expect(elements).toBe(1);
    expect(errors).toBe(0);
    parser.reset();
    expect(() => parser.write(Buffer.from(CLIENT_HEADER + '<d/>'))).toThrow(failure);
    expect(elements).toBe(2);
  });

  it('passes an XmlStreamError thrown by a callback through unchanged rather than as a parse error', () => {
    let errors = 0;
    const parser = new StreamParser({
      streamStart() {
        parseElement('<x><!-- nested parse fails --></x>');
      },
      element() {},
      streamEnd() {},
      error() {
        errors++;
      },
    });
    expect(() => parser.write(Buffer.from(CLIENT_HEADER))).toThrow(XmlStreamError);
    expect(errors).toBe(0);
  });
});

describe('calls from inside callbacks', () => {
  function parserWith(onElement: (parser: StreamParser, el: Element) => void) {
    const seen: string[] = [];
    const parser: StreamParser = new StreamParser({
      streamStart(header) {
        seen.push(`start:${header.name}`);
      },
      element(el) {
        seen.push(el.name);
        onElement(parser, el);
      },
      streamEnd() {
        seen.push('end');
      },
      error(err) {
        seen.push(`error:${err.code}`);
      },
    });
    return { parser, seen };
  }

  it('reset() on <starttls/> drops the plaintext sent after it in the same read (command injection)', () => {
    const { parser, seen } = parserWith((p, el) => {
      if (el.name === 'starttls') p.reset(); // the gateway answers <proceed/> and restarts
    });
    parser.write(
      Buffer.from(
        CLIENT_HEADER +
          "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" +
          "<iq type='set' id='injected'><query xmlns='jabber:iq:roster'><item jid='mallory@evil.example'/></query></iq>",
      ),
    );
    expect(seen).toEqual(['start:stream:stream', 'starttls']);
    parser.write(Buffer.from(CLIENT_HEADER + '<presence/>'));
    expect(seen).toEqual(['start:stream:stream', 'starttls', 'start:stream:stream', 'presence']);
  });

  it('queues write() and end() made by a callback after the chunk being parsed', () => {
    const { parser, seen } = parserWith((p, el) => {
      if (el.name === 'a') {
        p.write(Buffer.from('<c/>'));
        p.end();
        p.write(Buffer.from('<ignored-after-end/>'));
      }
    });
    parser.write(Buffer.from(CLIENT_HEADER + '<a/><b/>'));
    expect(seen).toEqual(['start:stream:stream', 'a', 'b', 'c']);
    parser.write(Buffer.from('<d/>'));
    expect(seen).toHaveLength(4);
  });

  it('a reset and a new stream written from a callback start cleanly', () => {
    const { parser, seen } = parserWith((p, el) => {
      if (el.name === 'success') {
        p.reset();
        p.write(Buffer.from(CLIENT_HEADER + '<iq/>'));
      }
    });
    parser.write(Buffer.from(CLIENT_HEADER + "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><leftover/>"));
    expect(seen).toEqual(['start:stream:stream', 'success', 'start:stream:stream', 'iq']);
  });

  it('a reset from streamStart of a self-closing root suppresses its streamEnd', () => {
    const seen: string[] = [];
    const parser: StreamParser = new StreamParser({
      streamStart() {
        seen.push('start');
        parser.reset();
      },
      element() {},
      streamEnd() {
        seen.push('end');
      },
      error() {},
    });
    parser.write(Buffer.from("<s:s xmlns:s='x'/><s:s xmlns:s='x'/>"));
    expect(seen).toEqual(['start']);
  });
});

describe('XML declaration and byte order mark', () => {
  it('accepts the declaration only at the very start, with or without a UTF-8 BOM', () => {
    const decl = '<?xml version="1.0" encoding="utf-8" standalone="yes" ?>';
    expect(parseWhole(decl + CLIENT_HEADER).errors).toEqual([]);
    expect(parseWhole(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(decl + '\n' + CLIENT_HEADER)])).errors).toEqual([]);
    expect(parseWhole(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(CLIENT_HEADER)])).errors).toEqual([]);
    expect(parseWhole('\n' + decl + CLIENT_HEADER).errors[0]?.condition).toBe('restricted-xml');
  });

  it('rejects a second BOM or a broken one', () => {
    expect(parseWhole(Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf, 0x3c])).errors[0]?.condition).toBe('not-well-formed');
    expect(parseWhole(Buffer.from([0xef, 0xbb, 0x3c])).errors[0]?.condition).toBe('not-well-formed');
  });
});

describe('attribute names are plain data', () => {
  const ATTRS = "__proto__='p' constructor='c' toString='t' hasOwnProperty='h' valueOf='v'";

  it('parses __proto__ and constructor as ordinary attributes with a null-prototype object', () => {
    const t = parseWhole(CLIENT_HEADER + `<message ${ATTRS}><x __proto__='nested'/></message>`);
    expect(t.errors).toEqual([]);
    const el = t.elements[0]!;
    expect(Object.getPrototypeOf(el.attrs)).toBeNull();
    expect(Object.getOwnPropertyDescriptor(el.attrs, '__proto__')?.value).toBe('p');
    expect(el.attrs.__proto__).toBe('p');
    expect(el.attrs.constructor).toBe('c');
    expect(el.attrs.toString).toBe('t');
    expect(Object.keys(el.attrs)).toEqual(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'xmlns']);
    expect(el.getChild('x')!.attrs.__proto__).toBe('nested');
    expect(({} as Record<string, unknown>).p).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('p');
  });

  it('round-trips them through serialize and parseElement', () => {
    const el = parseElement(`<message ${ATTRS}/>`);
    const text = serialize(el);
    expect(text).toBe('<message __proto__="p" constructor="c" toString="t" hasOwnProperty="h" valueOf="v"/>');
    const again = parseElement(text);
    expect(again.attrs.__proto__).toBe('p');
    expect(again.attrs.constructor).toBe('c');
  });

  it('rejects __proto__ twice as a duplicate', () => {
    expect(parseWhole(CLIENT_HEADER + "<m __proto__='a' __proto__='b'/>").errors[0]?.code).toBe('XML_DUPLICATE_ATTRIBUTE');
  });

  it('treats __proto__ on the stream header as data too', () => {
    const t = parseWhole("<stream:stream xmlns:stream='s' __proto__='x' constructor='y'>");
    expect(Object.getOwnPropertyDescriptor(t.headers[0]!.attrs, '__proto__')?.value).toBe('x');
    expect(t.headers[0]!.attrs.constructor).toBe('y');
  });

  it('xml() keeps a JSON-borne __proto__ key as data', () => {
    const attrs = JSON.parse('{"__proto__": "p", "constructor": "c"}') as Record<string, string>;
    const el = xml('message', attrs);
    expect(Object.getPrototypeOf(el.attrs)).toBeNull();
    expect(Object.getOwnPropertyDescriptor(el.attrs, '__proto__')?.value).toBe('p');
    expect(serialize(el)).toBe('<message __proto__="p" constructor="c"/>');
  });
});

describe('parseElement', () => {
  it('parses one element surrounded by whitespace, with an optional declaration', () => {
    const el = parseElement("<?xml version='1.0'?><body rid='1' xmlns='http://jabber.org/protocol/httpbind'/>\r\n ");
    expect(el.name).toBe('body');
    expect(parseElement(" \n\t<presence/>\n").name).toBe('presence');
    expect(el.getNS()).toBe('http://jabber.org/protocol/httpbind');
    expect(el).toBeInstanceOf(Element);
  });

  it('applies defaultNamespace only when the element relies on it', () => {
    expect(parseElement('<message><body>hi</body></message>', { defaultNamespace: 'jabber:client' }).attrs.xmlns).toBe('jabber:client');
    expect(parseElement("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>", { defaultNamespace: 'jabber:client' }).attrs.xmlns).toBe(
      'urn:ietf:params:xml:ns:xmpp-framing',
    );
    expect(parseElement('<message/>').attrs.xmlns).toBeUndefined();
  });

  it('predefines the xml prefix and allows declaring it correctly', () => {
    const el = parseElement("<a xml:lang='en' xmlns:xml='http://www.w3.org/XML/1998/namespace'><xml:b/></a>");
    expect(el.attrs['xml:lang']).toBe('en');
    expect(el.getChildElements()[0]!.name).toBe('xml:b');
  });

  it('enforces maxStanzaBytes on the element', () => {
    expect(() => parseElement(`<a>${'x'.repeat(100)}</a>`, { limits: { maxStanzaBytes: 50 } })).toThrow(/exceeds 50 bytes/);
  });

  it('throws only XmlStreamError, with a brand that survives duplicated installs', () => {
    try {
      parseElement('<a>');
      expect.unreachable();
    } catch (e) {
      expect(isXmlStreamError(e)).toBe(true);
      expect(isXmlStreamError({ ...(e as object), isXmlStreamError: true, code: 'X', condition: 'not-well-formed' })).toBe(true);
    }
    expect(isXmlStreamError(new Error('x'))).toBe(false);
    expect(isXmlStreamError(null)).toBe(false);
  });
});

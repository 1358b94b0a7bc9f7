import { describe, expect, it } from 'vitest';
import { serialize } from '../src/index.js';
import type { ParseEvent } from './helpers.js';
import { STREAM_NS, bytewise, chunked, parseChunks, parseWhole, splits } from './helpers.js';

const CLIENT_STREAM = [
  "<?xml version='1.0' encoding='UTF-8'?>",
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' xml:lang='en'>",
  "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj1qdWxpZXQscj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQQ==</auth>\n",
  "<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>\n",
  "<presence><show>away</show><status>Ünterwegs — 🚲 in Köln</status><priority>5</priority>",
  "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://conversations.im' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>\n",
  "<message type='chat' to='romeo@example.net/orchard' id='ktx72v49' xml:lang='en'>",
  '<body>Wherefore art thou, Romeo? &lt;3 &amp; 😀 — 你好 &#x1F3B8; &#233;</body>',
  "<request xmlns='urn:xmpp:receipts'/><active xmlns='http://jabber.org/protocol/chatstates'/></message>\n  \n",
  "<iq type='get' id='ping1' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>",
  "<r xmlns='urn:xmpp:sm:3'/><a xmlns='urn:xmpp:sm:3' h='42'/>\t\r\n",
  '</stream:stream>',
].join('');

const SERVER_STREAM = [
  "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' ",
  "from='example.org' to='example.com' version=\"1.0\" id='s2s-1'>",
  "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>",
  "<db:result from='example.org' to='example.com'>b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3</db:result>",
  "<message from='juliet@example.org/balcony' to='romeo@example.com' type='chat'><body>¡Hola!</body>",
  "<thread parent='e0ffe42b28561960c6b12b944a092794b9683a38'>0e3141cd80894871a68e6fe6b1ec56fa</thread></message>",
  "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>Replaced</text></stream:error>",
  '</stream:stream>',
].join('');

const HEADER = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

interface ValidFixture {
  name: string;
  input: string | Buffer;
  /** Check every pair of split points too (short fixtures only). */
  pairs: boolean;
  expected?: ParseEvent[];
  check?: (events: ParseEvent[]) => void;
}

const el = (xml: string): ParseEvent => ({ type: 'element', xml });

const FIXTURES: ValidFixture[] = [
  {
    name: 'a realistic client stream',
    input: CLIENT_STREAM,
    pairs: false,
    check: (events) => {
      expect(events.map((e) => e.type)).toEqual(['start', ...Array<string>(7).fill('element'), 'end']);
      expect(events[0]).toMatchObject({ name: 'stream:stream', namespace: STREAM_NS, namespaces: { '': 'jabber:client', stream: STREAM_NS } });
      expect(events[4]).toEqual(
        el(
          '<message type="chat" to="romeo@example.net/orchard" id="ktx72v49" xml:lang="en" xmlns="jabber:client">' +
            '<body>Wherefore art thou, Romeo? &lt;3 &amp; 😀 — 你好 🎸 é</body>' +
            '<request xmlns="urn:xmpp:receipts"/><active xmlns="http://jabber.org/protocol/chatstates"/></message>',
        ),
      );
      expect(events[7]).toEqual(el('<a xmlns="urn:xmpp:sm:3" h="42"/>'));
    },
  },
  {
    name: 'a server-to-server stream with dialback and a stream error',
    input: SERVER_STREAM,
    pairs: false,
    check: (events) => {
      expect(events.map((e) => e.type)).toEqual(['start', 'element', 'element', 'element', 'element', 'end']);
      expect(events[1]).toEqual(
        el(
          `<stream:features xmlns:stream="${STREAM_NS}"><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required/></starttls>` +
            '<dialback xmlns="urn:xmpp:features:dialback"/></stream:features>',
        ),
      );
      expect(events[2]).toMatchObject({ type: 'element', xml: expect.stringMatching(/^<db:result from="example.org" to="example.com" xmlns:db="jabber:server:dialback">/) });
      expect(events[3]).toMatchObject({ type: 'element', xml: expect.stringContaining('xmlns="jabber:server"') });
    },
  },
  {
    name: 'namespaces: prefixes, overrides and undeclaring the default',
    input:
      HEADER +
      "<iq xmlns:p='urn:p' p:a='1' a='2'><p:q xmlns='urn:d'><x/><y xmlns=''/><p:z xmlns:p='urn:p2' p:a='3'/></p:q><w xml:lang='de'/></iq></stream:stream>",
    pairs: false,
    expected: [
      { type: 'start', name: 'stream:stream', namespace: STREAM_NS, attrs: { xmlns: 'jabber:client', 'xmlns:stream': STREAM_NS }, namespaces: { '': 'jabber:client', stream: STREAM_NS } },
      el(
        '<iq xmlns:p="urn:p" p:a="1" a="2" xmlns="jabber:client"><p:q xmlns="urn:d"><x/><y xmlns=""/><p:z xmlns:p="urn:p2" p:a="3"/></p:q><w xml:lang="de"/></iq>',
      ),
      { type: 'end' },
    ],
  },
  {
    name: 'entities, character references and attribute normalization',
    input:
      HEADER +
      "<m a='&lt;&gt;&amp;&quot;&apos;' b='x\ty\nz\r\nw' c='&#9;&#10;&#13;' d=\"it's\"><b>&#65;&#x42;&#x0043;&#0000068; &#x10FFFF;\r\nline\rend &#13;</b></m></stream:stream>",
    pairs: false,
    check: (events) => {
      expect(events[1]).toEqual(
        el(
          '<m a="&lt;&gt;&amp;&quot;\'" b="x y z w" c="&#9;&#10;&#13;" d="it\'s" xmlns="jabber:client"><b>ABCD \u{10FFFF}\nline\nend &#13;</b></m>',
        ),
      );
    },
  },
  {
    name: 'CDATA sections join the surrounding text',
    input: HEADER + '<m>a<![CDATA[<not markup> & ]] ]>]]]]><![CDATA[>]]>z<![CDATA[]]></m><n><![CDATA[\r\n]]></n>',
    pairs: false,
    expected: [
      { type: 'start', name: 'stream:stream', namespace: STREAM_NS, attrs: { xmlns: 'jabber:client', 'xmlns:stream': STREAM_NS }, namespaces: { '': 'jabber:client', stream: STREAM_NS } },
      el('<m xmlns="jabber:client">a&lt;not markup&gt; &amp; ]] ]&gt;]]&gt;z</m>'),
      el('<n xmlns="jabber:client">\n</n>'),
    ],
  },
  {
    name: 'non-ASCII names, attribute values and text with a UTF-8 BOM',
    input: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(HEADER + "<café ñ='€𝄞'>日本語🎉</café>")]),
    pairs: false,
    check: (events) => expect(events[1]).toEqual(el('<café ñ="€𝄞" xmlns="jabber:client">日本語🎉</café>')),
  },
  {
    name: 'short stanza with a 4-byte character (every pair of splits)',
    input: "<s:s xmlns:s='x'><m a='😀'>é&amp;😀</m></s:s>",
    pairs: true,
    expected: [
      { type: 'start', name: 's:s', namespace: 'x', attrs: { 'xmlns:s': 'x' }, namespaces: { s: 'x' } },
      el('<m a="😀">é&amp;😀</m>'),
      { type: 'end' },
    ],
  },
  {
    name: 'stream header and end tag (every pair of splits)',
    input: "<?xml version='1.0'?>\n<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'> <a/> </stream:stream >",
    pairs: true,
    check: (events) => expect(events.map((e) => e.type)).toEqual(['start', 'element', 'end']),
  },
  {
    name: 'self-closing stream root',
    input: "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>",
    pairs: true,
    expected: [
      { type: 'start', name: 'stream:stream', namespace: STREAM_NS, attrs: { 'xmlns:stream': STREAM_NS }, namespaces: { stream: STREAM_NS } },
      { type: 'end' },
    ],
  },
];

describe('valid fixtures parse identically however they are split', () => {
  it.each(FIXTURES.map((f) => [f.name, f] as const))('%s', (_name, fixture) => {
    const input = typeof fixture.input === 'string' ? Buffer.from(fixture.input, 'utf8') : fixture.input;
    const whole = parseWhole(input);
    expect(whole.errors).toEqual([]);
    if (fixture.expected) expect(whole.events).toEqual(fixture.expected);
    fixture.check?.(whole.events);
    let variants = 0;
    for (const chunks of splits(input, fixture.pairs)) {
      expect(parseChunks(chunks).events).toEqual(whole.events);
      variants++;
    }
    expect(parseChunks(bytewise(input)).events).toEqual(whole.events);
    for (const size of [2, 3, 7, 64]) expect(parseChunks(chunked(input, size)).events).toEqual(whole.events);
    expect(variants).toBeGreaterThan(input.length);
  });
});

describe('emitted elements are self-contained', () => {
  it('carries the inherited default namespace and header prefixes, and detaches from the header', () => {
    const t = parseWhole(SERVER_STREAM);
    const [features, result, message, error] = t.elements;
    expect(features!.getNS()).toBe(STREAM_NS);
    expect(features!.attrs['xmlns:stream']).toBe(STREAM_NS);
    expect(features!.attrs.xmlns).toBeUndefined(); // no descendant relies on jabber:server
    expect(result!.getNS()).toBe('jabber:server:dialback');
    expect(message!.getNS()).toBe('jabber:server');
    expect(message!.getChild('body')!.getNS()).toBe('jabber:server');
    expect(error!.getChild('conflict', 'urn:ietf:params:xml:ns:xmpp-streams')).toBeDefined();
    for (const stanza of t.elements) expect(stanza.parent).toBeNull();
    // Reparsing the serialized form standalone gives the same element.
    for (const stanza of t.elements) {
      const again = parseWhole(`<r>${serialize(stanza)}</r>`.replace('<r>', HEADER).replace('</r>', '</stream:stream>'));
      expect(again.errors).toEqual([]);
      expect(again.elements[0]!.getNS()).toBe(stanza.getNS());
    }
  });

  it('adds the default namespace when only a descendant relies on it', () => {
    const t = parseWhole(HEADER + '<stream:features><bind/></stream:features>');
    expect(t.events[1]).toEqual(el(`<stream:features xmlns:stream="${STREAM_NS}" xmlns="jabber:client"><bind/></stream:features>`));
    expect(t.elements[0]!.getChild('bind')!.getNS()).toBe('jabber:client');
  });

  it('does not add anything the element declares itself or does not use', () => {
    const t = parseWhole(HEADER + "<iq xmlns='jabber:component:accept'><q xmlns:stream='urn:other'><stream:x/></q></iq>");
    expect(t.events[1]).toEqual(el('<iq xmlns="jabber:component:accept"><q xmlns:stream="urn:other"><stream:x/></q></iq>'));
  });

  it('sets parent links on descendants as ltx does', () => {
    const t = parseWhole(CLIENT_STREAM);
    const message = t.elements.find((e) => e.name === 'message')!;
    for (const child of message.getChildElements()) expect(child.parent).toBe(message);
    expect(message.getChild('request', 'urn:xmpp:receipts')).toBeDefined();
    expect(message.getChildText('body')).toContain('Romeo');
  });
});

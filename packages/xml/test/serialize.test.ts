import { describe, expect, it } from 'vitest';
import { Element, clone, escapeAttribute, escapeText, parseElement, serialize, xml } from '../src/index.js';

describe('escaping', () => {
  it('escapes text: & < > and CR', () => {
    expect(escapeText(`a&b<c>d"e'f\tg\nh\ri`)).toBe(`a&amp;b&lt;c&gt;d"e'f\tg\nh&#13;i`);
    expect(escapeText(']]>')).toBe(']]&gt;');
    expect(escapeText('plain')).toBe('plain');
  });

  it('escapes attribute values: & < > " and TAB, LF, CR as character references', () => {
    expect(escapeAttribute(`a&b<c>d"e'f\tg\nh\ri`)).toBe(`a&amp;b&lt;c&gt;d&quot;e'f&#9;g&#10;h&#13;i`);
  });

  it('replaces characters XML cannot carry with U+FFFD and keeps valid surrogate pairs', () => {
    expect(escapeText('a\u0000b\u001bc\uFFFEd\uFFFF')).toBe('a\uFFFDb\uFFFDc\uFFFDd\uFFFD');
    expect(escapeText('x\uD800y\uDC00z')).toBe('x\uFFFDy\uFFFDz');
    expect(escapeText('😀\uD83D')).toBe('😀\uFFFD');
    expect(escapeAttribute('\u0001😀')).toBe('\uFFFD😀');
  });
});

describe('serialize', () => {
  it('writes elements, attributes and text', () => {
    const el = xml('message', { to: 'romeo@example.net', id: 7, type: undefined, lang: null }, xml('body', null, 'a < b & c'), 'tail', 3);
    expect(serialize(el)).toBe('<message to="romeo@example.net" id="7"><body>a &lt; b &amp; c</body>tail3</message>');
    expect(serialize('x & y')).toBe('x &amp; y');
  });

  it('skips null and undefined attribute values and children, accepts numbers (ltx allows them)', () => {
    const el = new Element('a', { b: '1' });
    el.attrs.c = undefined;
    el.attrs.d = null;
    el.attrs.e = 5;
    el.children.push(null as unknown as string, 42 as unknown as string, 'x');
    expect(serialize(el)).toBe('<a b="1" e="5">42x</a>');
  });

  it('serializes attrs of null-prototype objects and ignores inherited properties', () => {
    const attrs = Object.create({ inherited: 'no' }) as Record<string, string>;
    attrs.own = 'yes';
    const el = new Element('a');
    el.attrs = attrs;
    expect(serialize(el)).toBe('<a own="yes"/>');
    const nullProto = Object.create(null) as Record<string, string>;
    nullProto.b = '1';
    el.attrs = nullProto;
    expect(serialize(el)).toBe('<a b="1"/>');
  });

  it('refuses names that are not XML names instead of injecting markup', () => {
    expect(() => serialize(xml('a b'))).toThrow(TypeError);
    expect(() => serialize(xml('a><script'))).toThrow(TypeError);
    expect(() => serialize(xml(''))).toThrow(TypeError);
    expect(() => serialize(xml('a', { 'x="1" y': '2' }))).toThrow(TypeError);
    expect(() => serialize(xml('a', { '': '2' }))).toThrow(TypeError);
    expect(serialize(xml('café', { 'xml:lang': 'fr', 'p:q': '1' }))).toBe('<café xml:lang="fr" p:q="1"/>');
  });

  it('round-trips tricky text and attribute values through the parser', () => {
    const tricky = 'tab\tnl\ncr\rcrlf\r\n amp& lt< gt> quot" apos\' ]]> 😀 \u0085 \u2028 é';
    const el = xml('m', { v: tricky, xmlns: 'urn:x' }, xml('t', null, tricky), tricky);
    const again = parseElement(serialize(el));
    expect(again.attrs.v).toBe(tricky);
    expect(again.getChildText('t')).toBe(tricky);
    expect(again.getText()).toBe(tricky);
    expect(serialize(again)).toBe(serialize(el));
  });

  it('serializes a 100 000-deep element without overflowing the stack', () => {
    const depth = 100_000;
    const root = xml('d');
    let cursor = root;
    for (let i = 1; i < depth; i++) {
      const child = xml('d');
      cursor.children.push(child);
      child.parent = cursor;
      cursor = child;
    }
    cursor.children.push('leaf');
    const out = serialize(root);
    expect(out).toBe('<d>'.repeat(depth) + 'leaf' + '</d>'.repeat(depth));
  });

  it('agrees with ltx for ordinary stanzas', () => {
    const el = xml('iq', { type: 'result', id: 'r1' }, xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'a@b', name: 'A & B' })));
    expect(serialize(el)).toBe(el.toString());
  });
});

describe('xml() factory', () => {
  it('flattens nested child arrays and skips null, undefined, booleans and empty strings', () => {
    const show = false;
    const el = xml('presence', null, [xml('show', null, 'away'), [null, undefined, [true, show && xml('x')]]], '', [[['deep']]]);
    expect(serialize(el)).toBe('<presence><show>away</show>deep</presence>');
  });

  it('sets parent links and null-prototype attributes', () => {
    const child = xml('body', null, 'hi');
    const el = xml('message', { to: 'a@b' }, child);
    expect(child.parent).toBe(el);
    expect(Object.getPrototypeOf(el.attrs)).toBeNull();
    expect(el.attrs.to).toBe('a@b');
    expect(el.getChildText('body')).toBe('hi');
    expect(el).toBeInstanceOf(Element);
  });

  it('turns numbers into strings', () => {
    const el = xml('a', { h: 0 }, 0, 1.5);
    expect(el.attrs.h).toBe('0');
    expect(el.children).toEqual(['0', '1.5']);
  });
});

describe('clone', () => {
  it('copies deeply, keeps null-prototype attributes and parent links, shares nothing', () => {
    const original = parseElement("<message to='a' __proto__='p'><body>hi</body><x><y z='1'/></x></message>");
    const copy = clone(original);
    expect(serialize(copy)).toBe(serialize(original));
    expect(copy.parent).toBeNull();
    expect(Object.getPrototypeOf(copy.attrs)).toBeNull();
    expect(copy.attrs.__proto__).toBe('p');
    const y = copy.getChild('x')!.getChild('y')!;
    expect(y.parent).toBe(copy.getChild('x'));
    y.attrs.z = '2';
    (copy.getChild('body')!.children as string[])[0] = 'changed';
    expect(serialize(original)).toBe('<message to="a" __proto__="p"><body>hi</body><x><y z="1"/></x></message>');
  });

  it('copies a 100 000-deep element without recursion', () => {
    const depth = 100_000;
    const el = parseElement('<d>'.repeat(depth) + '</d>'.repeat(depth), { limits: { maxDepth: depth, maxStanzaBytes: 1 << 20 } });
    expect(serialize(clone(el))).toBe(serialize(el));
  });
});

/** The element factory, like @xmpp/xml's xml(): `xml('message', { to }, xml('body', null, text))`. */
import { Element } from 'ltx';

export type XmlAttrs = Record<string, string | number | undefined | null>;
export type XmlChild = Element | string | number | null | undefined | boolean | readonly XmlChild[];

/**
 * Creates an element. Attributes whose value is undefined or null are skipped, numbers become
 * strings; the attribute object has a null prototype (like parsed elements). Children may be
 * nested arrays; null, undefined, booleans and empty strings are skipped, numbers become text.
 */
export function xml(name: string, attrs?: XmlAttrs | null, ...children: XmlChild[]): Element {
  const el = new Element(name);
  const own = Object.create(null) as Record<string, string>;
  if (attrs) {
    for (const key of Object.keys(attrs)) {
      const value = attrs[key];
      if (value === undefined || value === null) continue;
      own[key] = typeof value === 'string' ? value : String(value);
    }
  }
  el.attrs = own;
  // Flatten iteratively: arrays may nest arbitrarily deep.
  const pending: Array<{ list: readonly XmlChild[]; index: number }> = [{ list: children, index: 0 }];
  while (pending.length > 0) {
    const frame = pending[pending.length - 1]!;
    if (frame.index >= frame.list.length) {
      pending.pop();
      continue;
    }
    const child = frame.list[frame.index++];
    if (child === null || child === undefined || typeof child === 'boolean' || child === '') continue;
    if (Array.isArray(child)) {
      pending.push({ list: child as readonly XmlChild[], index: 0 });
    } else if (typeof child === 'string') {
      el.children.push(child);
    } else if (typeof child === 'number') {
      el.children.push(String(child));
    } else {
      const childEl = child as Element;
      el.children.push(childEl);
      childEl.parent = el;
    }
  }
  return el;
}

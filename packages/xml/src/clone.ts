/** Deep copy of an element, iterative (ltx's clone() recurses, and drops null-prototype attrs). */
import { Element } from 'ltx';

function shallowCopy(src: Element): Element {
  const copy = new Element(src.name);
  const attrs = Object.create(null) as Record<string, unknown>;
  const from = src.attrs as Record<string, unknown>;
  for (const key of Object.keys(from)) attrs[key] = from[key];
  copy.attrs = attrs;
  return copy;
}

/** Copies `el` and all its descendants; the copy has no parent and shares nothing with `el`. */
export function clone(el: Element): Element {
  const root = shallowCopy(el);
  const pending: Array<[Element, Element]> = [[el, root]];
  while (pending.length > 0) {
    const [src, dst] = pending.pop()!;
    for (const child of src.children as Array<Element | string | number | null | undefined>) {
      if (child === null || child === undefined) continue;
      if (typeof child !== 'object') {
        dst.children.push(String(child));
        continue;
      }
      const copy = shallowCopy(child);
      copy.parent = dst;
      dst.children.push(copy);
      pending.push([child, copy]);
    }
  }
  return root;
}

import { xml, type Element } from '@ambrosia/xml';

/** The result of an iq: same id, addresses swapped (RFC 6120 §8.2.3). */
export function iqResult(iq: Element, payload?: Element): Element {
  return xml('iq', { type: 'result', id: iq.attrs.id, to: iq.attrs.from, from: iq.attrs.to }, payload);
}

/** The single payload of an iq get/set (RFC 6120 §8.2.3: exactly one child element), or undefined. */
export function iqPayload(iq: Element): Element | undefined {
  const children = iq.children.filter((c): c is Element => typeof c !== 'string');
  return children.length === 1 ? children[0] : undefined;
}

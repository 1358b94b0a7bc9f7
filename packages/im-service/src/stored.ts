// Stanzas the service stored itself (presence, offline messages, archive) are parsed back with
// the XML package; they passed the gateway's limits once, so only generous bounds apply here.
import { clone, parseElement, type Element } from '@ambrosia/xml';

const STORED_LIMITS = { maxStanzaBytes: 64 * 1024 * 1024, maxTextLength: 64 * 1024 * 1024, maxDepth: 64 } as const;

export function parseStored(text: string): Element {
  return parseElement(text, { limits: STORED_LIMITS });
}

/** A copy of `stanza` with new addresses (the original is never mutated: it may be sent elsewhere too). */
export function readdress(stanza: Element, from: string | undefined, to: string | undefined): Element {
  const copy = clone(stanza);
  if (from === undefined) delete copy.attrs.from;
  else copy.attrs.from = from;
  if (to === undefined) delete copy.attrs.to;
  else copy.attrs.to = to;
  return copy;
}

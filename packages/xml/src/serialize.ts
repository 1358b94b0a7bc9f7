/**
 * Serializer for the element model: iterative (a 100 000-deep tree needs no call stack), with
 * escaping that makes serialize → parse return the same text and attribute values.
 */
import { Element } from 'ltx';
import { isXmlName } from './chars.js';

// Characters XML 1.0 §2.2 cannot carry at all, even as references: C0 controls other than
// TAB/LF/CR, U+FFFE/U+FFFF and lone surrogates. They become U+FFFD, exactly what encoding the
// string as UTF-8 would do to a lone surrogate anyway; the peer never receives unparseable XML.
const INVALID = '\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\uFFFE\\uFFFF';
const LONE_SURROGATE = '[\\uD800-\\uDBFF](?![\\uDC00-\\uDFFF])|(?<![\\uD800-\\uDBFF])[\\uDC00-\\uDFFF]';
const TEXT_ESCAPES = new RegExp(`[&<>\\r${INVALID}]|${LONE_SURROGATE}`, 'g');
const ATTRIBUTE_ESCAPES = new RegExp(`[&<>"\\t\\n\\r${INVALID}]|${LONE_SURROGATE}`, 'g');

function replacement(ch: string): string {
  switch (ch) {
    case '&':
      return '&amp;';
    case '<':
      return '&lt;';
    case '>':
      return '&gt;';
    case '"':
      return '&quot;';
    // Literal TAB/LF/CR in attribute values are normalized to spaces by the reader (§3.3.3) and a
    // literal CR in text becomes LF (§2.11); references keep them.
    case '\t':
      return '&#9;';
    case '\n':
      return '&#10;';
    case '\r':
      return '&#13;';
    default:
      return '\uFFFD';
  }
}

/** Escapes character data: & < > (and CR, which a reader would turn into LF). */
export function escapeText(s: string): string {
  return s.replace(TEXT_ESCAPES, replacement);
}

/** Escapes a double-quoted attribute value: & < > " and TAB, LF, CR as character references. */
export function escapeAttribute(s: string): string {
  return s.replace(ATTRIBUTE_ESCAPES, replacement);
}

// Names are written verbatim, so an invalid one could inject markup. Validated names are cached;
// the cache is cleared when full so it stays bounded whatever names an application invents.
const validNames = new Set<string>();
const VALID_NAME_CACHE_LIMIT = 1024;

function checkName(name: unknown, what: string): string {
  if (typeof name === 'string' && validNames.has(name)) return name;
  if (typeof name !== 'string' || !isXmlName(name)) {
    throw new TypeError(`cannot serialize ${what} name ${JSON.stringify(name)}: not an XML name`);
  }
  if (validNames.size >= VALID_NAME_CACHE_LIMIT) validNames.clear();
  validNames.add(name);
  return name;
}

type Node = Element | string | number | null | undefined;

function startTag(el: Element): string {
  let out = '<' + checkName(el.name, 'element');
  const attrs = el.attrs as Record<string, unknown> | null | undefined;
  if (attrs) {
    // Own keys only: works for null-prototype objects and ignores anything inherited.
    for (const key of Object.keys(attrs)) {
      const value = attrs[key];
      if (value === undefined || value === null) continue;
      out += ' ' + checkName(key, 'attribute') + '="' + escapeAttribute(typeof value === 'string' ? value : String(value)) + '"';
    }
  }
  return out;
}

/** Serializes an element (or a text node) to a standalone XML fragment. */
export function serialize(node: Element | string): string {
  if (typeof node === 'string') return escapeText(node);
  let out = startTag(node);
  if (node.children.length === 0) return out + '/>';
  out += '>';
  const open: Element[] = [node];
  const next: number[] = [0];
  while (open.length > 0) {
    const top = open.length - 1;
    const el = open[top]!;
    const i = next[top]!;
    const children = el.children as Node[];
    if (i >= children.length) {
      out += '</' + el.name + '>';
      open.pop();
      next.pop();
      continue;
    }
    next[top] = i + 1;
    const child = children[i];
    if (typeof child === 'string') {
      out += escapeText(child);
    } else if (typeof child === 'number') {
      out += String(child);
    } else if (child !== null && child !== undefined) {
      out += startTag(child);
      if (child.children.length === 0) {
        out += '/>';
      } else {
        out += '>';
        open.push(child);
        next.push(0);
      }
    }
  }
  return out;
}

/**
 * Decoding helpers for the tokenizer's hot path (see README.md, "Where the time goes").
 *
 * Short ASCII tokens repeat constantly in XMPP (element and attribute names, namespace URIs,
 * 'chat', 'result'): a small direct-mapped cache returns the same string without allocating.
 * The cache has a fixed number of slots shared by all parsers, so it cannot grow; a collision
 * only costs a decode.
 */

import { decodeReferences, hexValue, normalizeAttributeWhitespace, normalizeLineEnds } from './chars.js';

interface FastSlices {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

// Buffer#latin1Slice/utf8Slice skip toString()'s argument normalization; fall back when absent.
const proto = Buffer.prototype as unknown as Partial<FastSlices>;
const hasFastSlices = typeof proto.latin1Slice === 'function' && typeof proto.utf8Slice === 'function';

export const decodeLatin1: (buf: Buffer, start: number, end: number) => string = hasFastSlices
  ? (buf, start, end) => (buf as unknown as FastSlices).latin1Slice(start, end)
  : (buf, start, end) => buf.toString('latin1', start, end);

export const decodeUtf8: (buf: Buffer, start: number, end: number) => string = hasFastSlices
  ? (buf, start, end) => (buf as unknown as FastSlices).utf8Slice(start, end)
  : (buf, start, end) => buf.toString('utf8', start, end);

/** How decodeCharacters() treats the token's bytes. */
export const RAW = 0; // names and CDATA: bytes as they are
export const TEXT = 1; // character data: references expanded, CRLF and CR become LF (XML 1.0 §2.11, §4.1)
export const ATTRIBUTE = 2; // attribute values: references expanded, literal TAB/LF/CR and CRLF become a space (§3.3.3)
export type CharacterMode = typeof RAW | typeof TEXT | typeof ATTRIBUTE;

/**
 * Tokens up to this many bytes are decoded in one pass of JS into a shared UTF-16 scratch buffer,
 * then copied out by Buffer#ucs2Slice: one call into C++ per token instead of utf8Slice followed
 * by string passes for line ends and references. V8's UTF-8 decoder validates again and is slow
 * outside Latin-1; this input is already validated, so the pass only transcodes. Longer tokens
 * take the string path.
 */
const MAX_TRANSCODED_BYTES = 4096;
const utf16Bytes = Buffer.alloc(MAX_TRANSCODED_BYTES * 2);
const utf16Units = new Uint16Array(utf16Bytes.buffer, utf16Bytes.byteOffset, MAX_TRANSCODED_BYTES);
interface Ucs2Slice {
  ucs2Slice(start: number, end: number): string;
}
// ucs2Slice reads little-endian code units; a Uint16Array writes the platform's byte order.
const canTranscode =
  hasFastSlices &&
  typeof (proto as Partial<Ucs2Slice>).ucs2Slice === 'function' &&
  new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** ASCII bytes decodeCharacters() must look at: '&', TAB, LF, CR. */
const SPECIAL: Uint8Array = (() => {
  const t = new Uint8Array(128);
  for (const b of [0x26, 0x09, 0x0a, 0x0d]) t[b] = 1;
  return t;
})();

/**
 * Decodes the bytes [start, end) of a token the tokenizer has validated: well-formed UTF-8 and,
 * in TEXT and ATTRIBUTE modes, only well-formed references to the five predefined entities or to
 * a Char. Never call it on unchecked input: it detects no errors.
 */
export function decodeCharacters(buf: Buffer, start: number, end: number, mode: CharacterMode): string {
  if (!canTranscode || end - start > MAX_TRANSCODED_BYTES) return decodeCharactersByString(buf, start, end, mode);
  const out = utf16Units;
  let n = 0; // at most one code unit per input byte, so n ≤ end - start ≤ MAX_TRANSCODED_BYTES
  let i = start;
  while (i < end) {
    const b = buf[i]!;
    if (b < 0x80) {
      if (SPECIAL[b] === 0 || mode === RAW) {
        out[n++] = b;
        i++;
      } else if (b === 0x26 /* & */) {
        const c = buf[i + 1]!;
        if (c === 0x23 /* # */) {
          let cp = 0;
          let j = i + 2;
          if (buf[j] === 0x78 /* x */) {
            for (j++; buf[j] !== 0x3b /* ; */; j++) cp = cp * 16 + hexValue(buf[j]!);
          } else {
            for (; buf[j] !== 0x3b; j++) cp = cp * 10 + (buf[j]! - 0x30);
          }
          if (cp >= 0x10000) {
            cp -= 0x10000;
            out[n++] = 0xd800 + (cp >> 10);
            out[n++] = 0xdc00 + (cp & 0x3ff);
          } else {
            out[n++] = cp;
          }
          i = j + 1;
        } else if (c === 0x6c /* &lt; */) {
          out[n++] = 0x3c;
          i += 4;
        } else if (c === 0x67 /* &gt; */) {
          out[n++] = 0x3e;
          i += 4;
        } else if (c === 0x71 /* &quot; */) {
          out[n++] = 0x22;
          i += 6;
        } else if (buf[i + 2] === 0x6d /* &amp; */) {
          out[n++] = 0x26;
          i += 5;
        } else {
          out[n++] = 0x27; // &apos;
          i += 6;
        }
      } else if (b === 0x0d) {
        out[n++] = mode === ATTRIBUTE ? 0x20 : 0x0a;
        i += i + 1 < end && buf[i + 1] === 0x0a ? 2 : 1;
      } else {
        out[n++] = mode === ATTRIBUTE ? 0x20 : b; // TAB or LF
        i++;
      }
    } else if (b < 0xe0) {
      out[n++] = ((b & 0x1f) << 6) | (buf[i + 1]! & 0x3f);
      i += 2;
    } else if (b < 0xf0) {
      out[n++] = ((b & 0x0f) << 12) | ((buf[i + 1]! & 0x3f) << 6) | (buf[i + 2]! & 0x3f);
      i += 3;
    } else {
      const cp = (((b & 0x07) << 18) | ((buf[i + 1]! & 0x3f) << 12) | ((buf[i + 2]! & 0x3f) << 6) | (buf[i + 3]! & 0x3f)) - 0x10000;
      out[n++] = 0xd800 + (cp >> 10);
      out[n++] = 0xdc00 + (cp & 0x3ff);
      i += 4;
    }
  }
  return (utf16Bytes as unknown as Ucs2Slice).ucs2Slice(0, n * 2);
}

/** The same as decodeCharacters() through strings, for long tokens. */
function decodeCharactersByString(buf: Buffer, start: number, end: number, mode: CharacterMode): string {
  let s = decodeUtf8(buf, start, end);
  if (mode === RAW) return s;
  if (mode === TEXT) {
    if (s.indexOf('\r') !== -1) s = normalizeLineEnds(s);
  } else {
    s = normalizeAttributeWhitespace(s);
  }
  return decodeReferences(s);
}

const SLOT_BITS = 12;
const SLOTS = 1 << SLOT_BITS;
/** Longer tokens (ids, bodies) are rarely repeated; hashing them would be wasted work. */
export const MAX_INTERNED_LENGTH = 48;
const cache: string[] = new Array<string>(SLOTS).fill('');

/** Decodes ASCII bytes [start, end) (1 ≤ end - start ≤ MAX_INTERNED_LENGTH), reusing a cached string when one matches. */
export function decodeAsciiInterned(buf: Buffer, start: number, end: number): string {
  const n = end - start;
  // The slot comes from the length and three sampled bytes (first, middle, last): enough to tell
  // XMPP's names apart, and no loop. The comparison below checks every byte anyway, so a
  // collision, even a provoked one, only costs a decode.
  const key = (n << 21) ^ (buf[start]! << 14) ^ (buf[start + (n >> 1)]! << 7) ^ buf[end - 1]!;
  const slot = Math.imul(key, 0x9e3779b1) >>> (32 - SLOT_BITS);
  const cached = cache[slot]!;
  if (cached.length === n) {
    let i = 0;
    while (i < n && cached.charCodeAt(i) === buf[start + i]) i++;
    if (i === n) return cached;
  }
  const s = decodeLatin1(buf, start, end);
  cache[slot] = s;
  return s;
}

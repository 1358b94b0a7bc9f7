/**
 * Decoding helpers for the tokenizer's hot path.
 *
 * Short ASCII tokens repeat constantly in XMPP (element and attribute names, namespace URIs,
 * 'chat', 'result'): a small direct-mapped cache returns the same string without allocating.
 * The cache has a fixed number of slots shared by all parsers, so it cannot grow; a collision
 * only costs a decode.
 */

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

const SLOTS = 4096;
const MASK = SLOTS - 1;
/** Longer tokens (ids, bodies) are rarely repeated; hashing them would be wasted work. */
export const MAX_INTERNED_LENGTH = 48;
const cache: string[] = new Array<string>(SLOTS).fill('');

/** Decodes ASCII bytes [start, end) (end - start ≤ MAX_INTERNED_LENGTH), reusing a cached string when one matches. */
export function decodeAsciiInterned(buf: Buffer, start: number, end: number): string {
  let h = end - start;
  for (let i = start; i < end; i++) h = (Math.imul(h, 31) + buf[i]!) | 0;
  const slot = (h ^ (h >>> 12)) & MASK;
  const cached = cache[slot]!;
  const n = end - start;
  if (cached.length === n) {
    let i = 0;
    while (i < n && cached.charCodeAt(i) === buf[start + i]) i++;
    if (i === n) return cached;
  }
  const s = decodeLatin1(buf, start, end);
  cache[slot] = s;
  return s;
}

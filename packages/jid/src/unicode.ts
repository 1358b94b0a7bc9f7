// Unicode character properties that JavaScript regular expressions do not expose, and small
// string helpers shared by the PRECIS and IDNA code.
//
// Unicode version: General_Category, Script, the binary properties and normalisation come from
// the ICU inside Node (Node 20.20 ships ICU 78, Unicode 17.0; see process.versions.unicode).
// Bidi_Class, Joining_Type and the width mapping come from src/unicode-tables.ts, generated from the Unicode 17.0
// database; test/unicode-tables.test.ts checks the two sources agree.

import { BIDI_CLASS_RANGES, JOINING_TYPE_RANGES, WIDTH_MAPPING, type BidiGroup, type JoiningGroup } from './unicode-tables.js';

export type BidiClass = BidiGroup | 'L';
export type JoiningType = JoiningGroup | 'U';

/** A sorted table of disjoint inclusive code point ranges, each with a value; decoded on first use. */
class RangeTable<V extends string> {
  private starts: Uint32Array | undefined;
  private ends: Uint32Array | undefined;
  private values: V[] = [];

  constructor(
    private readonly source: Readonly<Record<V, string>>,
    private readonly fallback: V | 'L' | 'U',
  ) {}

  private decode(): void {
    const rows: Array<[number, number, V]> = [];
    for (const value of Object.keys(this.source) as V[]) {
      for (const token of this.source[value].split(' ')) {
        const dash = token.indexOf('-');
        const start = parseInt(dash < 0 ? token : token.slice(0, dash), 16);
        const end = dash < 0 ? start : parseInt(token.slice(dash + 1), 16);
        rows.push([start, end, value]);
      }
    }
    rows.sort((a, b) => a[0] - b[0]);
    this.starts = Uint32Array.from(rows, (r) => r[0]);
    this.ends = Uint32Array.from(rows, (r) => r[1]);
    this.values = rows.map((r) => r[2]);
  }

  lookup(cp: number): V | 'L' | 'U' {
    if (this.starts === undefined) this.decode();
    const starts = this.starts!;
    const ends = this.ends!;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (cp < starts[mid]!) hi = mid - 1;
      else if (cp > ends[mid]!) lo = mid + 1;
      else return this.values[mid]!;
    }
    return this.fallback;
  }
}

const bidiTable = new RangeTable<BidiGroup>(BIDI_CLASS_RANGES, 'L');
const joiningTable = new RangeTable<JoiningGroup>(JOINING_TYPE_RANGES, 'U');

/** Bidi_Class of a code point (UAX #9), with B, S, WS and the explicit formatting classes folded into 'X'. */
export function bidiClass(cp: number): BidiClass {
  if (cp < 0x80) return asciiBidi(cp);
  return bidiTable.lookup(cp) as BidiClass;
}

function asciiBidi(cp: number): BidiClass {
  if ((cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) return 'L';
  if (cp >= 0x30 && cp <= 0x39) return 'EN';
  return bidiTable.lookup(cp) as BidiClass;
}

/** Joining_Type of a code point (ArabicShaping.txt); 'U' when not listed. */
export function joiningType(cp: number): JoiningType {
  return joiningTable.lookup(cp) as JoiningType;
}

// Canonical_Combining_Class is not exposed either. Only "is it Virama (9)?" matters (RFC 5892
// Appendix A.1/A.2), and canonical reordering answers that exactly: NFD swaps two adjacent
// combining marks A B when ccc(A) > ccc(B) > 0. U+3099 has ccc 8 and U+05B0 has ccc 10, so a mark
// that NFD moves behind the first and in front of the second has a class of exactly 9.
const CCC_8 = '\u3099';
const CCC_10 = '\u05B0';

export function isVirama(cp: number): boolean {
  if (cp < 0x300) return false;
  const ch = String.fromCodePoint(cp);
  if (ch.normalize('NFD') !== ch) return false;
  return (ch + CCC_8).normalize('NFD') !== ch + CCC_8 && (CCC_10 + ch).normalize('NFD') !== CCC_10 + ch;
}

let widthMap: Map<number, string> | undefined;

function decodeWidthMap(): Map<number, string> {
  const map = new Map<number, string>();
  for (const token of WIDTH_MAPPING.split(' ')) {
    const [range, target] = token.split('>') as [string, string];
    const dash = range.indexOf('-');
    const start = parseInt(dash < 0 ? range : range.slice(0, dash), 16);
    const end = dash < 0 ? start : parseInt(range.slice(dash + 1), 16);
    const to = parseInt(target, 16);
    for (let cp = start; cp <= end; cp++) map.set(cp, String.fromCodePoint(to + cp - start));
  }
  return map;
}

/**
 * Width Mapping Rule (RFC 8265 §3.3.1 rule 1, RFC 5895 §2 step 2): fullwidth and halfwidth code
 * points map to their <wide>/<narrow> decomposition. In Unicode 17 those are U+3000 and the
 * Halfwidth and Fullwidth Forms block, each mapping to one code point (test/unicode-data.test.ts
 * checks every BMP code point against the UCD). Not NFKC: that would go on to decompose the
 * Hangul compatibility jamo a halfwidth jamo maps to.
 */
export function mapWidth(s: string): string {
  let out: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3000 || (c >= 0xff01 && c <= 0xffee)) {
      if (out === undefined) out = s.slice(0, i);
      out += (widthMap ??= decodeWidthMap()).get(c) ?? s[i];
    } else if (out !== undefined) {
      out += s[i];
    }
  }
  return out ?? s;
}

/** The string's code points (lone surrogates come through as themselves). */
export function codePoints(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const cp = s.codePointAt(i)!;
    out.push(cp);
    if (cp > 0xffff) i++;
  }
  return out;
}

/** Length in UTF-8 octets of a well-formed string (callers reject lone surrogates first). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 2; // surrogate pair: 2 units, 4 octets
      i++;
    } else n += 2;
  }
  return n;
}

/** "U+00E9" style name of a code point, for error messages that must not echo raw input. */
export function formatCodePoint(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

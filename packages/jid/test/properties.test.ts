// Property-based tests: preparation is idempotent, JIDs round-trip through their string form,
// the ASCII fast paths agree with the full algorithms, and Punycode round-trips.
import { domainToASCII } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { domainpartToASCII, isJidError, jid, parseJID, prepDomainpart, prepLocalpart, prepResourcepart } from '../src/index.js';
import { prepDomainpartFull, prepLocalpartFull, prepResourcepartFull } from '../src/parts.js';
import { punycodeDecode, punycodeEncode } from '../src/punycode.js';

const RUNS = { numRuns: 2000 };

// Characters chosen to hit every rule: case and width mapping, NFC, contextual rules,
// bidi classes, spaces, symbols, compatibility characters, separators, controls.
const TRICKY = [
  ...'abcxyzABCXYZ0189-._+!~#$%*=?^{}|\\'.split(''),
  ...`"&'/:<>@ `.split(''),
  'é', 'E\u0301', '\u0301', '\u0308', 'ß', 'ẞ', 'Σ', 'ς', 'σ', 'İ', 'ǅ', '\u212A', '\u212B',
  'ж', 'Ж', '中', '漢', 'カ', 'ｶ', 'ﾞ', 'ｊ', 'Ａ', '＠', '．', '。', '\u1100', '\u1161', '\u11A8',
  'א', 'ב', '\u05B0', '׳', 'ب', 'ا', '\u064E', '١', '۲', '·', 'l', '・', '\u0375', 'α',
  '\u200C', '\u200D', 'क', '\u094D', '\u00A0', '\u3000', '\u2003', '♚', '€', 'Ⅳ', 'ﬀ', '²', 'ℌ',
  '😀', '\u0000', '\t', '\u00AD', '\u200B', '\uE000', '\uFFFF', '\u0378', '\uD800',
];
const trickyUnit = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...TRICKY) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
);
const trickyString = fc.string({ unit: trickyUnit, minLength: 1, maxLength: 12 });

// Mostly characters valid in every part, sometimes a tricky one: reaches valid JIDs often.
const FRIENDLY = [...'abcxyzABCXYZ019-._', 'é', 'E\u0301', 'ß', 'Σ', 'ς', 'ж', 'Ж', '中', 'カ', 'ｶﾞ', 'ｊ', 'Ａ', 'İ', 'α'];
const friendlyString = fc.string({
  unit: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...FRIENDLY) }, { weight: 1, arbitrary: trickyUnit }),
  minLength: 1,
  maxLength: 12,
});

const LABEL_CHARS = [...'abcdefghijklmnopqrstuvwxyz0123456789-', 'ü', 'é', 'ß', 'ж', 'я', '中', '文', 'カ', 'あ', 'α', 'ς', 'ก', 'क', '\u094D', 'א', 'ב', 'ب'];
const label = fc.string({ unit: fc.constantFrom(...LABEL_CHARS), minLength: 1, maxLength: 10 });
const domainLike = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));

/** The prepared value, or the error code when preparation fails. */
function outcome(prepare: (s: string) => string, input: string): string {
  try {
    return `ok:${prepare(input)}`;
  } catch (e) {
    if (!isJidError(e)) throw e;
    return `error:${e.code}`;
  }
}

function attempt(prepare: (s: string) => string, input: string): string | undefined {
  try {
    return prepare(input);
  } catch (e) {
    if (!isJidError(e)) throw e;
    return undefined;
  }
}

describe('idempotence (RFC 8264 §7): preparing a prepared part changes nothing', () => {
  for (const [name, prepare, input] of [
    ['localpart', prepLocalpart, trickyString],
    ['resourcepart', prepResourcepart, trickyString],
    ['domainpart', prepDomainpart, fc.oneof(domainLike, trickyString)],
  ] as const) {
    it(name, () => {
      fc.assert(
        fc.property(input, (s) => {
          const once = attempt(prepare, s);
          if (once !== undefined) expect(prepare(once)).toBe(once);
        }),
        RUNS,
      );
    });
  }
});

describe('round trip: parseJID(j.toString()) equals j and prints the same', () => {
  it('for JIDs built from arbitrary parts', () => {
    const parts = fc.record({
      local: fc.option(friendlyString, { nil: undefined }),
      domain: domainLike,
      resource: fc.option(friendlyString, { nil: undefined }),
    });
    let valid = 0;
    fc.assert(
      fc.property(parts, ({ local, domain, resource }) => {
        const j = attempt(() => jid(local, domain, resource).toString(), '');
        if (j === undefined) return;
        valid++;
        const again = parseJID(j);
        expect(again.toString()).toBe(j);
        expect(again.equals(jid(local, domain, resource))).toBe(true);
      }),
      RUNS,
    );
    expect(valid).toBeGreaterThan(RUNS.numRuns / 10); // the generator reaches valid JIDs, not only errors
  });
  it('for parsed strings: parsing the printed form is a fixed point', () => {
    const text = fc.tuple(friendlyString, domainLike, friendlyString).map(([l, d, r]) => `${l}@${d}/${r}`);
    fc.assert(
      fc.property(fc.oneof(text, trickyString), (s) => {
        const once = attempt((x) => parseJID(x).toString(), s);
        if (once !== undefined) expect(parseJID(once).toString()).toBe(once);
      }),
      RUNS,
    );
  });
});

describe('the ASCII fast paths agree with the full algorithms', () => {
  const ascii = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 16 });
  const hostish = fc.string({ unit: fc.constantFrom(...'abcXYZ019-.'.split('')), minLength: 1, maxLength: 20 });
  it('localpart', () => {
    fc.assert(
      fc.property(ascii, (s) => {
        expect(outcome(prepLocalpart, s)).toBe(outcome(prepLocalpartFull, s));
      }),
      RUNS,
    );
  });
  it('resourcepart', () => {
    fc.assert(
      fc.property(ascii, (s) => {
        expect(outcome(prepResourcepart, s)).toBe(outcome(prepResourcepartFull, s));
      }),
      RUNS,
    );
  });
  it('domainpart', () => {
    fc.assert(
      fc.property(fc.oneof(hostish, ascii, domainLike), (s) => {
        expect(outcome(prepDomainpart, s)).toBe(outcome(prepDomainpartFull, s));
      }),
      RUNS,
    );
  });
});

describe('IDNA', () => {
  it('A-labels agree with Node’s UTS-46 (non-transitional) for every domain IDNA2008 accepts', () => {
    fc.assert(
      fc.property(domainLike, (d) => {
        const prepared = attempt(prepDomainpart, d);
        if (prepared !== undefined && !/^[\d.]+$/.test(prepared)) expect(domainpartToASCII(prepared)).toBe(domainToASCII(prepared));
      }),
      RUNS,
    );
  });
  it('Punycode decodes what it encodes', () => {
    const cp = fc.oneof(fc.integer({ min: 0, max: 0xd7ff }), fc.integer({ min: 0xe000, max: 0x10ffff }));
    fc.assert(
      fc.property(fc.array(cp, { minLength: 1, maxLength: 30 }), (cps) => {
        const encoded = punycodeEncode(cps);
        expect(encoded).toBeDefined();
        expect(punycodeDecode(encoded!.toLowerCase())?.map((c, i) => (cps[i]! < 0x80 ? cps[i]! : c))).toEqual(cps);
      }),
      RUNS,
    );
  });
});

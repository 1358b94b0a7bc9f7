// Localparts: PRECIS UsernameCaseMapped (RFC 8265 §3.3) plus RFC 7622 §3.3.1.
import { describe, expect, it } from 'vitest';
import { isJidError, prepLocalpart, type JidErrorReason } from '../src/index.js';

function reasonOf(input: string): JidErrorReason {
  try {
    prepLocalpart(input);
  } catch (e) {
    if (!isJidError(e)) throw e;
    expect(e.part).toBe('local');
    expect(e.condition).toBe('jid-malformed');
    return e.reason;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

describe('case mapping (RFC 8265 §3.3.2: Unicode toLowerCase)', () => {
  it('lower-cases ASCII', () => {
    expect(prepLocalpart('Juliet')).toBe('juliet');
    expect(prepLocalpart('JULIET')).toBe('juliet');
  });
  it('lower-cases non-ASCII letters', () => {
    expect(prepLocalpart('ÄÖÜ')).toBe('äöü');
    expect(prepLocalpart('ПРИВЕТ')).toBe('привет');
  });
  it('applies the Final_Sigma context of toLowerCase: ΣΑΣ becomes σας', () => {
    expect(prepLocalpart('ΣΑΣ')).toBe('σας');
    expect(prepLocalpart('Σ')).toBe('σ');
  });
  it('keeps ß (lower-casing is not case folding)', () => {
    expect(prepLocalpart('fußball')).toBe('fußball');
    expect(prepLocalpart('FUẞBALL')).toBe('fußball'); // capital sharp s lower-cases to ß
    expect(prepLocalpart('fußball')).not.toBe(prepLocalpart('fussball'));
  });
  it('uses the full mapping for İ (i + combining dot above)', () => {
    expect(prepLocalpart('İ')).toBe('i\u0307');
  });
  it('checks the class after mapping: ǅ lower-cases to ǆ, which has a compatibility decomposition', () => {
    expect(reasonOf('ǅ')).toBe('disallowed-code-point');
  });
  it('maps before checking: the Kelvin sign lower-cases to k', () => {
    expect(prepLocalpart('\u212A')).toBe('k');
  });
});

describe('width mapping (RFC 8265 §3.3.1 rule 1)', () => {
  it('maps fullwidth letters to ASCII: ｊｕｌｉｅｔ → juliet', () => {
    expect(prepLocalpart('ｊｕｌｉｅｔ')).toBe('juliet');
    expect(prepLocalpart('ＪＵＬＩＥＴ')).toBe('juliet');
  });
  it('maps halfwidth katakana and composes the voiced mark: ｶﾞ → ガ', () => {
    expect(prepLocalpart('ｶﾞ')).toBe('ガ');
  });
  it('refuses fullwidth forms of the characters RFC 7622 forbids', () => {
    for (const ch of ['＂', '＆', '＇', '／', '：', '＜', '＞', '＠']) expect(reasonOf(`a${ch}b`)).toBe('forbidden-character');
  });
  it('refuses the ideographic space, which maps to a space', () => {
    expect(reasonOf('a\u3000b')).toBe('forbidden-character');
  });
});

describe('normalisation (NFC)', () => {
  it('composes combining sequences', () => {
    expect(prepLocalpart('e\u0301')).toBe('é');
    expect(prepLocalpart('E\u0301')).toBe('é');
    expect(prepLocalpart('\u1100\u1161')).toBe('가'); // conjoining jamo compose to a syllable first
  });
  it('maps canonical singletons: the Ångström sign becomes å', () => {
    expect(prepLocalpart('\u212B')).toBe('å');
  });
});

describe('IdentifierClass (RFC 8264 §4.2, derived properties §9)', () => {
  it('allows letters, digits and marks of any script', () => {
    for (const s of ['juliet', 'π', 'ромео', '李白', 'ここ', 'क्षत्रिय', 'ไทย', 'x-y_z.w', 'a+b', 'a=b', 'a#b', '!$%*']) {
      expect(prepLocalpart(s)).toBe(s);
    }
  });
  it('refuses symbols (So, Sm, Sc, Sk outside ASCII): ♚, ☃, €, emoji', () => {
    for (const s of ['♚', '☃', '€', '😀', '∑']) expect(reasonOf(s)).toBe('disallowed-code-point');
  });
  it('refuses code points with compatibility decompositions: Ⅳ, ﬀ, ², ℌ', () => {
    for (const s of ['henryⅣ', 'ﬀ', 'x²', 'ℌ']) expect(reasonOf(s)).toBe('disallowed-code-point');
  });
  it('refuses controls, default-ignorables, noncharacters, private use and surrogates', () => {
    for (const s of ['a\u0000', 'a\t', 'a\u007F', 'a\u0085', 'a\u00AD', 'a\u034F', 'a\u200B', 'a\u202E', 'a\uFDD0', 'a\uFFFE', 'a\uE000', 'a\uD800', 'a\uDC00b', 'a\u{E0001}']) {
      expect(reasonOf(s)).toBe('disallowed-code-point');
    }
  });
  it('refuses unassigned code points', () => {
    expect(reasonOf('a\u0378')).toBe('unassigned-code-point');
    expect(reasonOf('a\u{E0080}')).toBe('unassigned-code-point');
  });
  it('refuses old Hangul jamo standing alone', () => {
    expect(reasonOf('\u1100')).toBe('disallowed-code-point');
    expect(reasonOf('\uA960')).toBe('disallowed-code-point');
  });
  it('refuses the RFC 5892 §2.6 DISALLOWED exceptions (tatweel, vertical kana repeat)', () => {
    expect(reasonOf('\u0628\u0640\u0628')).toBe('disallowed-code-point');
    expect(reasonOf('\u3031')).toBe('disallowed-code-point');
  });
  it('allows the PVALID exceptions: ß, ς, 〇', () => {
    expect(prepLocalpart('ς')).toBe('ς');
    expect(prepLocalpart('〇')).toBe('〇');
  });
});

describe('RFC 7622 §3.3.1 characters forbidden in localparts', () => {
  for (const ch of ['"', '&', "'", '/', ':', '<', '>', '@', ' ']) {
    it(`refuses ${JSON.stringify(ch)}`, () => {
      expect(reasonOf(`a${ch}b`)).toBe('forbidden-character');
    });
  }
  it('also when the string is otherwise non-ASCII', () => {
    expect(reasonOf('ä@b')).toBe('forbidden-character');
  });
});

describe('contextual rules (RFC 5892 Appendix A)', () => {
  it('A.1 ZWNJ after a virama, or between joining letters', () => {
    expect(prepLocalpart('क्\u200Cष')).toBe('क्\u200Cष');
    expect(prepLocalpart('\u0628\u200C\u0628')).toBe('\u0628\u200C\u0628'); // beh ZWNJ beh (D, D)
    expect(prepLocalpart('\u0628\u064E\u200C\u064E\u0628')).toBe('\u0628\u064E\u200C\u064E\u0628'); // transparent marks skipped
    expect(reasonOf('a\u200Cb')).toBe('context-rule');
    expect(reasonOf('\u0627\u200C\u0628')).toBe('context-rule'); // alef is right-joining: nothing joins on its left
  });
  it('A.2 ZWJ only after a virama', () => {
    expect(prepLocalpart('क्\u200Dष')).toBe('क्\u200Dष');
    expect(reasonOf('a\u200Db')).toBe('context-rule');
    expect(reasonOf('\u200D')).toBe('context-rule');
  });
  it('A.3 middle dot only between two l (Catalan)', () => {
    expect(prepLocalpart('col·lega')).toBe('col·lega');
    expect(prepLocalpart('L·L')).toBe('l·l'); // case mapping happens before the rule is checked
    expect(reasonOf('a·b')).toBe('context-rule');
    expect(reasonOf('l·')).toBe('context-rule');
  });
  it('A.4 Greek keraia only before Greek', () => {
    expect(prepLocalpart('\u0375α')).toBe('\u0375α');
    expect(reasonOf('\u0375a')).toBe('context-rule');
  });
  it('A.5/A.6 Hebrew geresh and gershayim only after Hebrew', () => {
    expect(prepLocalpart('א׳')).toBe('א׳');
    expect(prepLocalpart('אב״ג')).toBe('אב״ג');
    expect(reasonOf('׳א')).toBe('context-rule');
  });
  it('A.7 Katakana middle dot only with Hiragana, Katakana or Han', () => {
    expect(prepLocalpart('カ・a')).toBe('カ・a');
    expect(prepLocalpart('漢・字')).toBe('漢・字');
    expect(reasonOf('a・b')).toBe('context-rule');
  });
  it('A.8/A.9 Arabic-Indic digits of the two sets never mix', () => {
    expect(prepLocalpart('\u0628\u0661\u0662')).toBe('\u0628\u0661\u0662');
    expect(prepLocalpart('\u0628\u06F1\u06F2')).toBe('\u0628\u06F1\u06F2');
    expect(reasonOf('\u0628\u0661\u06F2')).toBe('context-rule');
  });
});

describe('directionality (RFC 8265 §3.3.3 rule 5: the Bidi Rule of RFC 5893)', () => {
  it('accepts right-to-left strings', () => {
    for (const s of ['אבג', 'שלום', 'אב1', 'مرحبا', '\u0628\u0661\u0662', 'אב\u05B0']) expect(prepLocalpart(s)).toBe(s);
  });
  it('refuses mixed directions', () => {
    expect(reasonOf('אבa')).toBe('bidi-rule');
    expect(reasonOf('aאב')).toBe('bidi-rule');
    expect(reasonOf('abcمرحبا')).toBe('bidi-rule');
  });
  it('refuses an RTL string ending in a neutral or starting with a digit', () => {
    expect(reasonOf('אב-')).toBe('bidi-rule');
    expect(reasonOf('1אב')).toBe('bidi-rule');
  });
  it('refuses European and Arabic-Indic digits together in RTL text', () => {
    expect(reasonOf('\u0628\u06611')).toBe('bidi-rule');
  });
  it('applies to strings made only of Arabic-Indic digits (AN counts as RTL)', () => {
    expect(reasonOf('\u0661\u0662')).toBe('bidi-rule');
  });
  it('leaves left-to-right strings alone', () => {
    expect(prepLocalpart('1abc')).toBe('1abc');
    expect(prepLocalpart('abc-')).toBe('abc-');
  });
});

describe('length and emptiness', () => {
  it('allows 1023 octets and refuses 1024, counted in UTF-8 after preparation', () => {
    expect(prepLocalpart('a'.repeat(1023))).toHaveLength(1023);
    expect(() => prepLocalpart('a'.repeat(1024))).toThrow(expect.objectContaining({ code: 'JID_TOO_LONG', part: 'local' }));
    expect(prepLocalpart('é'.repeat(511) + 'a')).toHaveLength(512); // 1023 octets
    expect(() => prepLocalpart('é'.repeat(512))).toThrow(expect.objectContaining({ code: 'JID_TOO_LONG' }));
    // Decomposed input counts after NFC: 511 × (e + U+0301) is 1022 octets once composed.
    expect(prepLocalpart('e\u0301'.repeat(511) + 'a')).toBe('é'.repeat(511) + 'a');
    expect(() => prepLocalpart('\u{10400}'.repeat(256))).toThrow(expect.objectContaining({ code: 'JID_TOO_LONG' }));
  });
  it('refuses huge inputs before preparing them', () => {
    expect(() => prepLocalpart('ä'.repeat(100_000))).toThrow(expect.objectContaining({ code: 'JID_TOO_LONG' }));
  });
  it('refuses the empty string', () => {
    expect(() => prepLocalpart('')).toThrow(expect.objectContaining({ code: 'JID_EMPTY', part: 'local' }));
  });
});

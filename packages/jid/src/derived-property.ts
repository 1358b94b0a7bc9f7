// Derived properties of code points: the PRECIS algorithm (RFC 8264 §8, categories §9) and the
// IDNA2008 algorithm (RFC 5892 §3, categories §2). Both are computed from the Unicode data in
// Node's ICU rather than from the frozen IANA tables, as both RFCs intend ("version agility",
// RFC 8264 §11, RFC 5892 §1); see README.md for the Unicode version in use.

/** Valid in every class. */
export const PVALID = 1;
/** Valid only where the RFC 5892 Appendix A rule for a join control holds. */
export const CONTEXTJ = 2;
/** Valid only where the RFC 5892 Appendix A rule for this code point holds. */
export const CONTEXTO = 3;
export const DISALLOWED = 4;
export const UNASSIGNED = 5;
/** PRECIS ID_DIS / FREE_PVAL: disallowed in IdentifierClass, valid in FreeformClass (RFC 8264 §8). */
export const FREE_PVAL = 6;

export type DerivedProperty = 1 | 2 | 3 | 4 | 5 | 6;

// RFC 5892 §2.6 Exceptions (F), also used by PRECIS (RFC 8264 §9.6).
const EXCEPTIONS = new Map<number, DerivedProperty>([
  // PVALID: German eszett, Greek final sigma, Arabic/Tibetan/CJK letters and marks.
  [0x00df, PVALID],
  [0x03c2, PVALID],
  [0x06fd, PVALID],
  [0x06fe, PVALID],
  [0x0f0b, PVALID],
  [0x3007, PVALID],
  // CONTEXTO: middle dot, Greek keraia, Hebrew geresh/gershayim, Katakana middle dot.
  [0x00b7, CONTEXTO],
  [0x0375, CONTEXTO],
  [0x05f3, CONTEXTO],
  [0x05f4, CONTEXTO],
  [0x30fb, CONTEXTO],
  // DISALLOWED: Arabic tatweel, N'Ko lajanyalan, ideographic/Hangul tone marks, vertical kana repeat marks.
  [0x0640, DISALLOWED],
  [0x07fa, DISALLOWED],
  [0x302e, DISALLOWED],
  [0x302f, DISALLOWED],
  [0x3031, DISALLOWED],
  [0x3032, DISALLOWED],
  [0x3033, DISALLOWED],
  [0x3034, DISALLOWED],
  [0x3035, DISALLOWED],
  [0x303b, DISALLOWED],
]);
// CONTEXTO: Arabic-Indic and extended Arabic-Indic digits.
for (let cp = 0x0660; cp <= 0x0669; cp++) EXCEPTIONS.set(cp, CONTEXTO);
for (let cp = 0x06f0; cp <= 0x06f9; cp++) EXCEPTIONS.set(cp, CONTEXTO);

// RFC 5892 §2.7 BackwardCompatible (G) is empty: no Unicode version since 5.2 has needed an entry.

// RFC 5892 §2.9 / RFC 8264 §9.9 OldHangulJamo: Hangul_Syllable_Type L, V or T (HangulSyllableType.txt),
// which regular expressions do not expose. These ranges have not changed since Unicode 5.2.
function isOldHangulJamo(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x11ff) ||
    (cp >= 0xa960 && cp <= 0xa97c) ||
    (cp >= 0xd7b0 && cp <= 0xd7c6) ||
    (cp >= 0xd7cb && cp <= 0xd7fb)
  );
}

const RE_UNASSIGNED_GC = /\p{Cn}/u;
const RE_NONCHARACTER = /\p{Noncharacter_Code_Point}/u;
const RE_JOIN_CONTROL = /\p{Join_Control}/u;
const RE_DEFAULT_IGNORABLE = /\p{Default_Ignorable_Code_Point}/u;
const RE_CONTROL = /\p{Cc}/u;
// RFC 8264 §9.1 / RFC 5892 §2.1 LetterDigits.
const RE_LETTER_DIGITS = /[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]/u;
// RFC 8264 §9.18 OtherLetterDigits, §9.14 Spaces, §9.15 Symbols, §9.16 Punctuation.
const RE_FREEFORM_ONLY = /[\p{Lt}\p{Nl}\p{No}\p{Me}\p{Zs}\p{Sm}\p{Sc}\p{Sk}\p{So}\p{Pc}\p{Pd}\p{Ps}\p{Pe}\p{Pi}\p{Pf}\p{Po}]/u;
// RFC 5892 §2.2 Unstable: toNFKC(toCaseFold(toNFKC(cp))) != cp. Unicode's
// Changes_When_NFKC_Casefolded is that test, except that it also flags Default_Ignorable code
// points, which §2.3 disallows in the very next step, so the outcome is the same.
const RE_UNSTABLE = /\p{Changes_When_NFKC_Casefolded}/u;
const RE_WHITE_SPACE = /\p{White_Space}/u;

function isUnassigned(ch: string): boolean {
  // RFC 8264 §9.4 / RFC 5892 §2.10: General_Category Cn and not a noncharacter.
  return RE_UNASSIGNED_GC.test(ch) && !RE_NONCHARACTER.test(ch);
}

/** RFC 8264 §8: the PRECIS derived property; FREE_PVAL stands for ID_DIS/FREE_PVAL. */
function computePrecis(cp: number): DerivedProperty {
  const exception = EXCEPTIONS.get(cp);
  if (exception !== undefined) return exception;
  const ch = String.fromCodePoint(cp);
  if (isUnassigned(ch)) return UNASSIGNED;
  if (cp >= 0x21 && cp <= 0x7e) return PVALID; // §9.11 ASCII7
  if (RE_JOIN_CONTROL.test(ch)) return CONTEXTJ; // §9.8
  if (isOldHangulJamo(cp)) return DISALLOWED; // §9.9
  if (RE_DEFAULT_IGNORABLE.test(ch) || RE_NONCHARACTER.test(ch)) return DISALLOWED; // §9.13 PrecisIgnorableProperties
  if (RE_CONTROL.test(ch)) return DISALLOWED; // §9.12 Controls
  if (ch.normalize('NFKC') !== ch) return FREE_PVAL; // §9.17 HasCompat
  if (RE_LETTER_DIGITS.test(ch)) return PVALID; // §9.1
  if (RE_FREEFORM_ONLY.test(ch)) return FREE_PVAL; // §9.18, §9.14, §9.15, §9.16
  return DISALLOWED; // surrogates, private use, Zl, Zp, other Cf
}

/** RFC 5892 §3: the IDNA2008 derived property (never FREE_PVAL). */
function computeIdna(cp: number): DerivedProperty {
  const exception = EXCEPTIONS.get(cp);
  if (exception !== undefined) return exception;
  const ch = String.fromCodePoint(cp);
  if (isUnassigned(ch)) return UNASSIGNED;
  if (cp === 0x2d || (cp >= 0x30 && cp <= 0x39) || (cp >= 0x61 && cp <= 0x7a)) return PVALID; // §2.5 LDH
  if (RE_JOIN_CONTROL.test(ch)) return CONTEXTJ; // §2.8
  if (RE_UNSTABLE.test(ch)) return DISALLOWED; // §2.2
  if (RE_DEFAULT_IGNORABLE.test(ch) || RE_WHITE_SPACE.test(ch) || RE_NONCHARACTER.test(ch)) return DISALLOWED; // §2.3
  // §2.4 IgnorableBlocks: Combining Diacritical Marks for Symbols, Musical Symbols, Ancient Greek Musical Notation.
  if ((cp >= 0x20d0 && cp <= 0x20ff) || (cp >= 0x1d100 && cp <= 0x1d24f)) return DISALLOWED;
  if (isOldHangulJamo(cp)) return DISALLOWED; // §2.9
  if (RE_LETTER_DIGITS.test(ch)) return PVALID; // §2.1
  return DISALLOWED;
}

// Memo of both properties, one byte per code point (PRECIS in bits 0-2, IDNA2008 in bits 3-5),
// in 64 KiB planes allocated on first use: at most 17 planes (1.1 MiB) whatever peers send,
// and in practice the BMP alone.
const planes: Array<Uint8Array | undefined> = [];

function planeOf(cp: number): Uint8Array {
  const index = cp >>> 16;
  let plane = planes[index];
  if (plane === undefined) {
    plane = new Uint8Array(0x10000);
    planes[index] = plane;
  }
  return plane;
}

export function precisProperty(cp: number): DerivedProperty {
  const plane = planeOf(cp);
  const slot = cp & 0xffff;
  let value = plane[slot]! & 0x7;
  if (value === 0) {
    value = computePrecis(cp);
    plane[slot] = plane[slot]! | value;
  }
  return value as DerivedProperty;
}

export function idnaProperty(cp: number): DerivedProperty {
  const plane = planeOf(cp);
  const slot = cp & 0xffff;
  let value = (plane[slot]! >>> 3) & 0x7;
  if (value === 0) {
    value = computeIdna(cp);
    plane[slot] = plane[slot]! | (value << 3);
  }
  return value as DerivedProperty;
}

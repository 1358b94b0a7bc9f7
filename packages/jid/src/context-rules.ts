// RFC 5892 Appendix A: the contextual rules for CONTEXTJ and CONTEXTO code points, shared by
// IDNA2008 labels (RFC 5891 §4.2.3.3) and PRECIS strings (RFC 8264 §9.6, §9.8).

import { isVirama, joiningType } from './unicode.js';

const RE_GREEK = /\p{Script=Greek}/u;
const RE_HEBREW = /\p{Script=Hebrew}/u;
const RE_HIRAGANA_KATAKANA_HAN = /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]/u;

const scriptIs = (re: RegExp, cp: number | undefined): boolean => cp !== undefined && re.test(String.fromCodePoint(cp));

/**
 * The rules evaluated over one label or string. Facts about the whole string (A.7–A.9) are
 * computed once, on first need, so a string full of such code points costs linear time.
 */
export class ContextRules {
  private hasHiraganaKatakanaHan: boolean | undefined;
  private hasArabicIndicDigit: boolean | undefined;
  private hasExtendedArabicIndicDigit: boolean | undefined;

  constructor(private readonly cps: readonly number[]) {}

  /** True when the rule for the CONTEXTJ/CONTEXTO code point at index `i` holds; false when it fails or no rule exists. */
  holds(i: number): boolean {
    const cps = this.cps;
    const cp = cps[i]!;
    const before = i > 0 ? cps[i - 1] : undefined;
    const after = cps[i + 1];
    switch (cp) {
      case 0x200c: // A.1 ZERO WIDTH NON-JOINER
        if (before !== undefined && isVirama(before)) return true;
        return this.zwnjJoinsLetters(i);
      case 0x200d: // A.2 ZERO WIDTH JOINER
        return before !== undefined && isVirama(before);
      case 0x00b7: // A.3 MIDDLE DOT: only between two "l" (Catalan l·l)
        return before === 0x6c && after === 0x6c;
      case 0x0375: // A.4 GREEK LOWER NUMERAL SIGN (KERAIA): followed by Greek
        return scriptIs(RE_GREEK, after);
      case 0x05f3: // A.5 HEBREW PUNCTUATION GERESH: preceded by Hebrew
      case 0x05f4: // A.6 HEBREW PUNCTUATION GERSHAYIM: preceded by Hebrew
        return scriptIs(RE_HEBREW, before);
      case 0x30fb: // A.7 KATAKANA MIDDLE DOT: somewhere with Hiragana, Katakana or Han
        return (this.hasHiraganaKatakanaHan ??= cps.some((c) => scriptIs(RE_HIRAGANA_KATAKANA_HAN, c)));
      default:
        if (cp >= 0x0660 && cp <= 0x0669) {
          // A.8 ARABIC-INDIC DIGITS: not mixed with extended Arabic-Indic digits
          return !(this.hasExtendedArabicIndicDigit ??= cps.some((c) => c >= 0x06f0 && c <= 0x06f9));
        }
        if (cp >= 0x06f0 && cp <= 0x06f9) {
          // A.9 EXTENDED ARABIC-INDIC DIGITS: not mixed with Arabic-Indic digits
          return !(this.hasArabicIndicDigit ??= cps.some((c) => c >= 0x0660 && c <= 0x0669));
        }
        return false;
    }
  }

  // A.1, second clause:
  // RegExpMatch((Joining_Type:{L,D})(Joining_Type:T)*\u200C(Joining_Type:T)*(Joining_Type:{R,D}))
  // The scans stop at the first non-T code point, and ZWNJ itself is U, so all ZWNJs of a
  // string together scan it at most twice.
  private zwnjJoinsLetters(i: number): boolean {
    const cps = this.cps;
    let left = i - 1;
    while (left >= 0 && joiningType(cps[left]!) === 'T') left--;
    if (left < 0) return false;
    const leftType = joiningType(cps[left]!);
    if (leftType !== 'L' && leftType !== 'D') return false;
    let right = i + 1;
    while (right < cps.length && joiningType(cps[right]!) === 'T') right++;
    if (right >= cps.length) return false;
    const rightType = joiningType(cps[right]!);
    return rightType === 'R' || rightType === 'D';
  }
}

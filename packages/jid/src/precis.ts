// The two PRECIS profiles XMPP uses (RFC 7622 §3.3, §3.4):
//   UsernameCaseMapped (RFC 8265 §3.3) for localparts: IdentifierClass, width mapping,
//     toLowerCase, NFC, Bidi Rule;
//   OpaqueString (RFC 8265 §4.2) for resourceparts: FreeformClass, non-ASCII spaces to U+0020, NFC.
// The rules run in the order of RFC 8264 §7 (width, additional mapping, case, normalisation,
// directionality) and the class check comes last, on the mapped string.

import { hasRightToLeft, satisfiesBidiRule } from './bidi-rule.js';
import { ContextRules } from './context-rules.js';
import { CONTEXTJ, CONTEXTO, FREE_PVAL, PVALID, UNASSIGNED, precisProperty } from './derived-property.js';
import { invalid } from './errors.js';
import { codePoints, formatCodePoint, mapWidth } from './unicode.js';

type Part = 'local' | 'resource';

/** RFC 8264 §4.2 IdentifierClass or §4.3 FreeformClass: every code point valid, context rules hold. */
function checkClass(cps: readonly number[], freeform: boolean, part: Part, forbidden?: (cp: number) => boolean): void {
  let context: ContextRules | undefined;
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!;
    if (forbidden?.(cp)) throw invalid(part, 'forbidden-character', `${formatCodePoint(cp)} is not allowed here`, cp);
    const property = precisProperty(cp);
    if (property === PVALID || (freeform && property === FREE_PVAL)) continue;
    if (property === CONTEXTJ || property === CONTEXTO) {
      if ((context ??= new ContextRules(cps)).holds(i)) continue;
      throw invalid(part, 'context-rule', `${formatCodePoint(cp)} is not allowed in this context (RFC 5892 Appendix A)`, cp);
    }
    if (property === UNASSIGNED) {
      throw invalid(part, 'unassigned-code-point', `${formatCodePoint(cp)} is unassigned`, cp);
    }
    throw invalid(part, 'disallowed-code-point', `${formatCodePoint(cp)} is not allowed`, cp);
  }
}

/**
 * RFC 8265 §3.3.2–3.3.3 mapping: width mapping, toLowerCase, NFC. JavaScript's toLowerCase is
 * Unicode's full, locale-independent toLowercase (including the Final_Sigma context, so "ΣΑΣ"
 * becomes "σας"), which is what RFC 8265 §3.3.2 names; ß stays ß (no case folding).
 */
export function mapUsernameCaseMapped(s: string): string {
  return mapWidth(s).toLowerCase().normalize('NFC');
}

/**
 * PRECIS UsernameCaseMapped enforcement (RFC 8265 §3.3.3); throws JidError for `part`.
 * `forbidden` names code points the application excludes on top (RFC 7622 §3.3.1 for localparts).
 */
export function enforceUsernameCaseMapped(input: string, part: Part = 'local', forbidden?: (cp: number) => boolean): string {
  const mapped = mapUsernameCaseMapped(input);
  const cps = codePoints(mapped);
  checkClass(cps, false, part, forbidden);
  // RFC 8265 §3.3.3 rule 5 applies the Bidi Rule to strings with right-to-left code points;
  // like RFC 5893 §1.4, AN counts as right-to-left.
  if (hasRightToLeft(cps) && !satisfiesBidiRule(cps)) {
    throw invalid(part, 'bidi-rule', 'right-to-left text violates the Bidi Rule (RFC 5893 §2)');
  }
  // RFC 8264 §7 requires idempotent output: a string that maps differently a second time
  // would compare unequal to itself after a round trip, so it is refused.
  if (mapUsernameCaseMapped(mapped) !== mapped) {
    throw invalid(part, 'unstable', 'preparation is not idempotent for this string');
  }
  return mapped;
}

const RE_NON_ASCII_SPACE = /(?!\u0020)\p{Zs}/gu;

/** RFC 8265 §4.2.2 mapping: non-ASCII spaces (Zs) to U+0020, then NFC; no width or case mapping. */
export function mapOpaqueString(s: string): string {
  return s.replace(RE_NON_ASCII_SPACE, ' ').normalize('NFC');
}

/** PRECIS OpaqueString enforcement (RFC 8265 §4.2.3); throws JidError for `part`. */
export function enforceOpaqueString(input: string, part: Part = 'resource'): string {
  const mapped = mapOpaqueString(input);
  checkClass(codePoints(mapped), true, part);
  if (mapOpaqueString(mapped) !== mapped) {
    throw invalid(part, 'unstable', 'preparation is not idempotent for this string');
  }
  return mapped;
}

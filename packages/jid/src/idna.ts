// IDNA2008 label validation (RFC 5891 §4.2.3, §5.3–5.4) and A-label/U-label conversion.

import { hasRightToLeft, satisfiesBidiRule } from './bidi-rule.js';
import { ContextRules } from './context-rules.js';
import { CONTEXTJ, CONTEXTO, PVALID, UNASSIGNED, idnaProperty } from './derived-property.js';
import { invalid, tooLong } from './errors.js';
import { punycodeDecode, punycodeEncode } from './punycode.js';
import { codePoints, formatCodePoint } from './unicode.js';

/** RFC 1035 §2.3.4 / RFC 5890 §2.3.2.1: a label is at most 63 octets in its ASCII form. */
export const MAX_LABEL_OCTETS = 63;

export interface PreparedLabel {
  /** The label as stored in a JID: NR-LDH or U-label. */
  readonly unicode: string;
  /** Octets of the label in ASCII (A-label) form. */
  readonly asciiLength: number;
}

const RE_LEADING_MARK = /^\p{M}/u;

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

function isLdhCode(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d;
}

/** RFC 5891 §4.2.3.1: no hyphen first or last, none in both the third and fourth positions. */
function checkHyphens(label: string): void {
  if (label.charCodeAt(0) === 0x2d || label.charCodeAt(label.length - 1) === 0x2d) {
    throw invalid('domain', 'hyphen', 'a label starts or ends with a hyphen');
  }
  if (label.charCodeAt(2) === 0x2d && label.charCodeAt(3) === 0x2d) {
    throw invalid('domain', 'hyphen', 'a label has hyphens in the third and fourth positions');
  }
}

/** RFC 5891 §4.2.3 / §5.4: checks a U-label's code points, hyphens, leading mark and context rules. */
function validateULabel(label: string, cps: readonly number[]): void {
  checkHyphens(label);
  if (RE_LEADING_MARK.test(label)) {
    throw invalid('domain', 'leading-combining-mark', 'a label starts with a combining mark');
  }
  let context: ContextRules | undefined;
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!;
    const property = idnaProperty(cp);
    if (property === PVALID) continue;
    if (property === CONTEXTJ || property === CONTEXTO) {
      if ((context ??= new ContextRules(cps)).holds(i)) continue;
      throw invalid('domain', 'context-rule', `${formatCodePoint(cp)} is not allowed in this context (RFC 5892 Appendix A)`, cp);
    }
    if (property === UNASSIGNED) throw invalid('domain', 'unassigned-code-point', `${formatCodePoint(cp)} is unassigned`, cp);
    throw invalid('domain', 'disallowed-code-point', `${formatCodePoint(cp)} is not allowed by IDNA2008`, cp);
  }
}

/** An "xn--" label (already lower case): decode, validate the U-label, and require an exact round trip (RFC 5891 §5.3). */
function prepareALabel(label: string): PreparedLabel {
  if (label.length > MAX_LABEL_OCTETS) throw tooLong('domain', 'label-too-long', `a label exceeds ${MAX_LABEL_OCTETS} octets`);
  const decoded = punycodeDecode(label.slice(4));
  if (decoded === undefined || decoded.length === 0 || decoded.every((cp) => cp < 0x80)) {
    throw invalid('domain', 'invalid-a-label', 'an xn-- label is not the Punycode of a non-ASCII U-label');
  }
  const unicode = String.fromCodePoint(...decoded);
  if (unicode.normalize('NFC') !== unicode) {
    throw invalid('domain', 'invalid-a-label', 'an xn-- label decodes to a string not in NFC');
  }
  validateULabel(unicode, decoded);
  if (`xn--${punycodeEncode(decoded)}` !== label) {
    throw invalid('domain', 'invalid-a-label', 'an xn-- label does not round-trip through Punycode');
  }
  return { unicode, asciiLength: label.length };
}

/**
 * Prepares one label of a mapped (lower-cased, NFC) domain name: an NR-LDH label, an A-label
 * (returned as its U-label) or a U-label. Throws JidError.
 */
export function prepareLabel(label: string): PreparedLabel {
  if (label.length === 0) throw invalid('domain', 'empty-label', 'empty label');
  if (isAscii(label)) {
    if (label.startsWith('xn--')) return prepareALabel(label);
    for (let i = 0; i < label.length; i++) {
      const c = label.charCodeAt(i);
      if (!isLdhCode(c)) throw invalid('domain', 'disallowed-code-point', `${formatCodePoint(c)} is not a letter, digit or hyphen`, c);
    }
    // RFC 5890 §2.3.1: "??--" labels other than A-labels are reserved (R-LDH), not NR-LDH.
    checkHyphens(label);
    if (label.length > MAX_LABEL_OCTETS) throw tooLong('domain', 'label-too-long', `a label exceeds ${MAX_LABEL_OCTETS} octets`);
    return { unicode: label, asciiLength: label.length };
  }
  const cps = codePoints(label);
  // Every code point costs at least one character after "xn--": refuse before the quadratic encoder runs.
  if (cps.length > MAX_LABEL_OCTETS - 4) {
    throw tooLong('domain', 'label-too-long', `a label exceeds ${MAX_LABEL_OCTETS} octets in A-label form`);
  }
  validateULabel(label, cps);
  const encoded = punycodeEncode(cps);
  const asciiLength = encoded === undefined ? Infinity : 4 + encoded.length;
  if (asciiLength > MAX_LABEL_OCTETS) {
    throw tooLong('domain', 'label-too-long', `a label exceeds ${MAX_LABEL_OCTETS} octets in A-label form`);
  }
  return { unicode: label, asciiLength };
}

/**
 * RFC 5893 §2 / RFC 5891 §4.2.3.4: in a domain name with any right-to-left label, every label
 * must satisfy the Bidi Rule.
 */
export function checkDomainBidi(labels: readonly string[]): void {
  const cpsOf = labels.map(codePoints);
  if (!cpsOf.some(hasRightToLeft)) return;
  for (const cps of cpsOf) {
    if (!satisfiesBidiRule(cps)) {
      throw invalid('domain', 'bidi-rule', 'a label of a right-to-left domain name violates the Bidi Rule (RFC 5893 §2)');
    }
  }
}

/** The A-label (ASCII) form of a prepared domain name, for DNS look-ups and certificate matching. */
export function domainToAscii(domain: string): string {
  if (isAscii(domain)) return domain;
  return domain
    .split('.')
    .map((label) => (isAscii(label) ? label : `xn--${punycodeEncode(codePoints(label))}`))
    .join('.');
}

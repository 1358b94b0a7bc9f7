/**
 * Byte classes for the tokenizer's fast paths, name validation, and the post-passes that turn
 * a token's raw text into its value (line ends §2.11, attribute normalization §3.3.3,
 * references §4.1). The tokenizer validates every byte before these run, so they never fail.
 */

function table(predicate: (b: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) t[b] = predicate(b) ? 1 : 0;
  return t;
}

const isAsciiLetter = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;

/** ASCII bytes that may start a Name (XML 1.0 §2.3); bytes ≥ 0x80 are checked after decoding. */
export const NAME_START: Uint8Array = table((b) => isAsciiLetter(b) || b === 0x5f /* _ */ || b === 0x3a /* : */);
/** ASCII bytes that may continue a Name. */
export const NAME_CHAR: Uint8Array = table(
  (b) => isAsciiLetter(b) || isDigit(b) || b === 0x5f || b === 0x3a || b === 0x2d /* - */ || b === 0x2e /* . */,
);
/** S ::= (#x20 | #x9 | #xD | #xA)+ (XML 1.0 §2.3). */
export const WHITESPACE: Uint8Array = table((b) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d);

const printableAscii = (b: number): boolean => b >= 0x20 && b < 0x80;
/** Character data bytes needing no attention: not markup, not CR, not a control, not non-ASCII. */
export const TEXT_PLAIN: Uint8Array = table(
  (b) => (printableAscii(b) && b !== 0x3c /* < */ && b !== 0x26 /* & */ && b !== 0x3e) /* > */ || b === 0x09 || b === 0x0a,
);
/** Attribute value bytes needing no attention (TAB/LF/CR need normalization, quotes end the value). */
export const ATTR_PLAIN: Uint8Array = table(
  (b) => printableAscii(b) && b !== 0x3c && b !== 0x26 && b !== 0x22 /* " */ && b !== 0x27 /* ' */,
);
/** CDATA content bytes needing no attention ('>' may end "]]>", CR needs normalization). */
export const CDATA_PLAIN: Uint8Array = table((b) => (printableAscii(b) && b !== 0x3e) || b === 0x09 || b === 0x0a);

/**
 * Lead bytes of UTF-8 sequences that need no check beyond "continuation bytes follow":
 * 2 for C2-DF (2-byte), 3 for E1-EC and EE (3-byte, never overlong, surrogate or U+FFFE/F).
 * 0 for everything else, which goes through the full validator.
 */
export const SIMPLE_UTF8_LEAD: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let b = 0xc2; b <= 0xdf; b++) t[b] = 2;
  for (let b = 0xe1; b <= 0xec; b++) t[b] = 3;
  t[0xee] = 3;
  return t;
})();

export function isHexDigit(b: number): boolean {
  return isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

export function hexValue(b: number): number {
  return b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x61 + 10;
}

export { isDigit, isAsciiLetter };

// XML 1.0 (Fifth Edition) §2.3 [4] NameStartChar and [4a] NameChar, used only for names that
// contain non-ASCII characters (the byte tables settle ASCII names).
const NAME_START_CLASS =
  ':A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D' +
  '\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}';
const NAME_CLASS = NAME_START_CLASS + '\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040';
const NAME_PATTERN = new RegExp(`^[${NAME_START_CLASS}][${NAME_CLASS}]*$`, 'u');

export function isXmlName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/** §2.11: CRLF and lone CR become LF. Only called when the raw text contained a CR. */
export function normalizeLineEnds(s: string): string {
  return s.replace(/\r\n?/g, '\n');
}

/**
 * §3.3.3 attribute-value normalization for CDATA-typed attributes (all of them, without a DTD):
 * after line-end normalization each literal TAB, LF or CR becomes a space. Character references
 * (&#9; &#10; &#13;) are resolved afterwards and so survive, which is why the serializer writes
 * those three characters as references.
 */
export function normalizeAttributeWhitespace(s: string): string {
  return s.replace(/\r\n|[\t\n\r]/g, ' ');
}

/**
 * Replaces the five predefined entity references and numeric character references (§4.1, §4.6).
 * The tokenizer has already checked that every '&' starts one of those, well-formed, denoting a Char.
 */
export function decodeReferences(s: string): string {
  let amp = s.indexOf('&');
  if (amp === -1) return s;
  let out = '';
  let copied = 0;
  while (amp !== -1) {
    const semi = s.indexOf(';', amp + 2);
    if (semi === -1) break; // unreachable after tokenizer validation; keep the rest verbatim
    out += s.slice(copied, amp);
    const second = s.charCodeAt(amp + 1);
    if (second === 0x23 /* # */) {
      const hex = s.charCodeAt(amp + 2) === 0x78; /* x */
      const cp = hex ? parseInt(s.slice(amp + 3, semi), 16) : parseInt(s.slice(amp + 2, semi), 10);
      out += String.fromCodePoint(cp);
    } else {
      switch (s.slice(amp + 1, semi)) {
        case 'lt':
          out += '<';
          break;
        case 'gt':
          out += '>';
          break;
        case 'amp':
          out += '&';
          break;
        case 'quot':
          out += '"';
          break;
        case 'apos':
          out += "'";
          break;
        default:
          out += s.slice(amp, semi + 1); // unreachable after tokenizer validation
      }
    }
    copied = semi + 1;
    amp = s.indexOf('&', copied);
  }
  return out + s.slice(copied);
}

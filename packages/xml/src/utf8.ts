/**
 * A byte-at-a-time UTF-8 validator (a DFA whose state survives chunk boundaries) that also
 * rejects the two non-ASCII code points XML 1.0 §2.2 excludes from Char: U+FFFE and U+FFFF.
 *
 * Rejected, per RFC 3629 §3-4: overlong forms (C0, C1, E0 80-9F, F0 80-8F), UTF-16 surrogates
 * encoded in UTF-8 (ED A0-BF), code points above U+10FFFF (F4 90+, F5-FF), stray continuation
 * bytes, and sequences interrupted by any other byte. Nothing is ever replaced by U+FFFD.
 */

/** Between characters. Every other state is in the middle of a multi-byte sequence. */
export const UTF8_ACCEPT = 0;
const NEED_1 = 1; // one continuation byte 80-BF left
const NEED_2 = 2; // two continuation bytes left
const AFTER_E0 = 3; // next A0-BF (no overlong 3-byte forms)
const AFTER_ED = 4; // next 80-9F (no surrogates)
const AFTER_EF = 5; // next 80-BE, or BF which may lead to U+FFFE/U+FFFF
const AFTER_EF_BF = 6; // next 80-BD; BE/BF would be U+FFFE/U+FFFF
const AFTER_F0 = 7; // next 90-BF (no overlong 4-byte forms)
const NEED_3 = 8; // three continuation bytes left (after F1-F3)
const AFTER_F4 = 9; // next 80-8F (nothing above U+10FFFF)
export const UTF8_REJECT = 10;
const STATE_COUNT = 11;

/** transitions[state * 256 + byte] → next state. */
export const UTF8_TRANSITIONS: Uint8Array = buildTransitions();

function buildTransitions(): Uint8Array {
  const t = new Uint8Array(STATE_COUNT * 256).fill(UTF8_REJECT);
  const set = (state: number, from: number, to: number, next: number): void => {
    for (let b = from; b <= to; b++) t[state * 256 + b] = next;
  };
  set(UTF8_ACCEPT, 0x00, 0x7f, UTF8_ACCEPT);
  set(UTF8_ACCEPT, 0xc2, 0xdf, NEED_1);
  set(UTF8_ACCEPT, 0xe0, 0xe0, AFTER_E0);
  set(UTF8_ACCEPT, 0xe1, 0xec, NEED_2);
  set(UTF8_ACCEPT, 0xed, 0xed, AFTER_ED);
  set(UTF8_ACCEPT, 0xee, 0xee, NEED_2);
  set(UTF8_ACCEPT, 0xef, 0xef, AFTER_EF);
  set(UTF8_ACCEPT, 0xf0, 0xf0, AFTER_F0);
  set(UTF8_ACCEPT, 0xf1, 0xf3, NEED_3);
  set(UTF8_ACCEPT, 0xf4, 0xf4, AFTER_F4);
  set(NEED_1, 0x80, 0xbf, UTF8_ACCEPT);
  set(NEED_2, 0x80, 0xbf, NEED_1);
  set(AFTER_E0, 0xa0, 0xbf, NEED_1);
  set(AFTER_ED, 0x80, 0x9f, NEED_1);
  set(AFTER_EF, 0x80, 0xbe, NEED_1);
  set(AFTER_EF, 0xbf, 0xbf, AFTER_EF_BF);
  set(AFTER_EF_BF, 0x80, 0xbd, UTF8_ACCEPT);
  set(AFTER_F0, 0x90, 0xbf, NEED_2);
  set(NEED_3, 0x80, 0xbf, NEED_2);
  set(AFTER_F4, 0x80, 0x8f, NEED_2);
  return t;
}

/** True when `cp` is a Char of XML 1.0 §2.2 (used for numeric character references). */
export function isXmlChar(cp: number): boolean {
  return cp >= 0x20
    ? cp <= 0xd7ff || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)
    : cp === 0x09 || cp === 0x0a || cp === 0x0d;
}

/** Validates a whole buffer: true when it is UTF-8 made only of XML Chars (test helper, and for callers). */
export function isValidXmlUtf8(bytes: Uint8Array): boolean {
  let state = UTF8_ACCEPT;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (state === UTF8_ACCEPT && b < 0x80) {
      if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
      continue;
    }
    state = UTF8_TRANSITIONS[state * 256 + b]!;
    if (state === UTF8_REJECT) return false;
  }
  return state === UTF8_ACCEPT;
}

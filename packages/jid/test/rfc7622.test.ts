import { describe, expect, it } from 'vitest';
import { isJidError, parseJID, type JidErrorCode, type JidPart } from '../src/index.js';

function failure(input: string): { code: JidErrorCode; part: JidPart } {
  try {
    parseJID(input);
  } catch (e) {
    if (!isJidError(e)) throw e;
    return { code: e.code, part: e.part };
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

// RFC 7622 §3.5.1: each of these is a valid JID; [input, local, domain, resource].
const VALID: Array<[string, string, string, string]> = [
  ['juliet@example.com', 'juliet', 'example.com', ''],
  ['juliet@example.com/foo', 'juliet', 'example.com', 'foo'],
  ['juliet@example.com/foo bar', 'juliet', 'example.com', 'foo bar'],
  ['juliet@example.com/foo@bar', 'juliet', 'example.com', 'foo@bar'],
  ['foo\\20bar@example.com', 'foo\\20bar', 'example.com', ''], // XEP-0106 escaping is just text here
  ['fussball@example.com', 'fussball', 'example.com', ''],
  ['fu\u00DFball@example.com', 'fu\u00DFball', 'example.com', ''], // ß is not case-folded to "ss"
  ['\u03C0@example.com', '\u03C0', 'example.com', ''],
  ['\u03A3@example.com/foo', '\u03C3', 'example.com', 'foo'], // capital sigma maps to small sigma
  ['\u03C3@example.com/foo', '\u03C3', 'example.com', 'foo'],
  ['\u03C2@example.com/foo', '\u03C2', 'example.com', 'foo'], // final sigma is kept
  ['king@example.com/\u265A', 'king', 'example.com', '\u265A'], // a symbol is fine in a resourcepart
  ['example.com', '', 'example.com', ''],
  ['example.com/foobar', '', 'example.com', 'foobar'],
  ['a.example.com/b@example.net', '', 'a.example.com', 'b@example.net'],
];

// RFC 7622 §3.5.2: each of these is invalid, with the reason the RFC gives.
const INVALID: Array<[string, JidErrorCode, JidPart, string]> = [
  ['"juliet"@example.com', 'JID_LOCALPART_INVALID', 'local', 'quotation marks are disallowed in localparts'],
  ['foo bar@example.com', 'JID_LOCALPART_INVALID', 'local', 'space is disallowed in localparts'],
  ['juliet@example.com/', 'JID_EMPTY', 'resource', 'empty resourcepart'],
  ['@example.com/', 'JID_EMPTY', 'local', 'empty localpart and resourcepart'],
  ['henry\u2163@example.com', 'JID_LOCALPART_INVALID', 'local', 'ROMAN NUMERAL FOUR has a compatibility decomposition'],
  ['\u265A@example.com', 'JID_LOCALPART_INVALID', 'local', 'symbols are disallowed in localparts'],
  ['juliet@', 'JID_EMPTY', 'domain', 'empty domainpart'],
  ['/foobar', 'JID_EMPTY', 'domain', 'empty domainpart'],
];

describe('RFC 7622 §3.5.1 valid JIDs', () => {
  for (const [input, local, domain, resource] of VALID) {
    it(`accepts ${JSON.stringify(input)}`, () => {
      const j = parseJID(input);
      expect([j.local, j.domain, j.resource]).toEqual([local, domain, resource]);
      expect(parseJID(j.toString()).equals(j)).toBe(true);
    });
  }
});

describe('RFC 7622 §3.5.2 invalid JIDs', () => {
  for (const [input, code, part, why] of INVALID) {
    it(`rejects ${JSON.stringify(input)}: ${why}`, () => {
      expect(failure(input)).toEqual({ code, part });
    });
  }
});

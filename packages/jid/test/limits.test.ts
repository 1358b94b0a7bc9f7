// Inputs built to make preparation slow or memory-hungry are refused within bounded work.
// No timing is asserted; each case runs under a generous per-test timeout instead.
import { describe, expect, it } from 'vitest';
import { parseJID, prepDomainpart, prepLocalpart, prepResourcepart } from '../src/index.js';

const GENEROUS_MS = 10_000;

describe('pathological inputs', () => {
  it('whole-string contextual rules stay linear (Katakana middle dots, Arabic-Indic digits)', { timeout: GENEROUS_MS }, () => {
    expect(() => prepResourcepart('・'.repeat(1000))).toThrow(expect.objectContaining({ reason: 'context-rule' }));
    expect(prepResourcepart(`カ${'・'.repeat(300)}`)).toHaveLength(301);
    expect(() => prepLocalpart(`\u0628${'\u0661'.repeat(4000)}`)).toThrow(expect.objectContaining({ code: 'JID_TOO_LONG' }));
    expect(prepLocalpart(`\u0628${'\u0661'.repeat(400)}`)).toHaveLength(401);
  });
  it('long labels are refused before Punycode encoding', { timeout: GENEROUS_MS }, () => {
    expect(() => prepDomainpart('ü'.repeat(4000))).toThrow(expect.objectContaining({ reason: 'label-too-long' }));
    expect(() => prepDomainpart('ü.'.repeat(2000))).toThrow(expect.objectContaining({ reason: 'domain-too-long' }));
  });
  it('oversized parts are refused before any mapping', { timeout: GENEROUS_MS }, () => {
    const huge = 'ä'.repeat(1_000_000);
    expect(() => parseJID(`${huge}@example.com`)).toThrow(expect.objectContaining({ code: 'JID_TOO_LONG', part: 'whole' }));
    expect(() => prepLocalpart(huge)).toThrow(expect.objectContaining({ code: 'JID_TOO_LONG', part: 'local' }));
    expect(() => prepResourcepart(`a${'\u0301'.repeat(100_000)}`)).toThrow(expect.objectContaining({ code: 'JID_TOO_LONG' }));
  });
  it('long runs of combining marks are handled', { timeout: GENEROUS_MS }, () => {
    expect(() => prepResourcepart(`a${'\u0301'.repeat(4091)}`)).toThrow(expect.objectContaining({ code: 'JID_TOO_LONG' }));
    expect(prepResourcepart(`a${'\u0301'.repeat(500)}`)).toBe(`á${'\u0301'.repeat(499)}`); // NFC composes the first
  });
});

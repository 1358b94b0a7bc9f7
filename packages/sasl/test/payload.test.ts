// decodeSaslPayload / encodeSaslPayload (RFC 6120 §6.4.2, RFC 4648 §4).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSaslPayload, encodeSaslPayload } from '../src/index.js';

describe('decodeSaslPayload', () => {
  it('distinguishes no data ("") from empty data ("=")', () => {
    expect(decodeSaslPayload('')).toEqual({ ok: true, data: undefined });
    expect(decodeSaslPayload('=')).toEqual({ ok: true, data: Buffer.alloc(0) });
  });

  it('decodes canonical base64 and tolerates surrounding XML whitespace', () => {
    expect(decodeSaslPayload('biwsbj11c2VyLHI9YWJj')).toEqual({ ok: true, data: Buffer.from('n,,n=user,r=abc') });
    expect(decodeSaslPayload('\n  YQ==\n')).toEqual({ ok: true, data: Buffer.from('a') });
  });

  for (const bad of ['YQ', 'YQ=', 'YQ===', 'Y Q==', 'YR==', 'Y\nQ==', 'YQ==YQ==', '====', '-_8=', 'é', '==']) {
    it(`rejects ${JSON.stringify(bad)} with incorrect-encoding`, () => {
      expect(decodeSaslPayload(bad)).toMatchObject({ ok: false, condition: 'incorrect-encoding' });
    });
  }

  it('rejects payloads over the bound from the text length alone', () => {
    const huge = 'A'.repeat(4 * 1024 * 1024);
    expect(decodeSaslPayload(huge, { maxBytes: 8192 })).toMatchObject({ ok: false, condition: 'malformed-request' });
    expect(decodeSaslPayload(' '.repeat(1024 * 1024), { maxBytes: 8192 })).toMatchObject({ ok: false, condition: 'malformed-request' });
    expect(decodeSaslPayload(Buffer.alloc(8192).toString('base64'), { maxBytes: 8192 }).ok).toBe(true);
    expect(decodeSaslPayload(Buffer.alloc(8193).toString('base64'), { maxBytes: 8192 }).ok).toBe(false);
  });

  it('round-trips any bytes through encodeSaslPayload', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const data = Buffer.from(bytes);
        expect(decodeSaslPayload(encodeSaslPayload(data))).toEqual({ ok: true, data });
      }),
    );
    expect(encodeSaslPayload(undefined)).toBe('');
  });

  it('never throws and only accepts what re-encodes to the same text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), (text) => {
        const result = decodeSaslPayload(text);
        if (result.ok && result.data !== undefined) expect(encodeSaslPayload(result.data)).toBe(text.trim());
      }),
      { numRuns: 2000 },
    );
  });
});

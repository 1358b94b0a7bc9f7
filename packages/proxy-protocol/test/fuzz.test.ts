import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeV1, encodeV2, isProxyProtocolError, ProxyHeaderDecoder, V1_MAX_LENGTH, V2_SIGNATURE, type DecodeStep } from '../src/index.js';

const MAX_V2 = 300;

/** Feeds `bytes` in the given chunk sizes; checks the bound on buffered bytes at every step. */
function feed(bytes: Uint8Array, sizes: number[]): DecodeStep {
  const decoder = new ProxyHeaderDecoder({ maxV2Bytes: MAX_V2 });
  let step: DecodeStep = { status: 'incomplete', buffered: 0 };
  let offset = 0;
  let i = 0;
  while (offset < bytes.length && decoder.result === undefined) {
    const size = Math.max(1, sizes[i++ % Math.max(1, sizes.length)] ?? 1);
    step = decoder.push(bytes.subarray(offset, offset + size));
    offset += size;
    if (step.status === 'incomplete') expect(step.buffered).toBeLessThanOrEqual(Math.max(V1_MAX_LENGTH, MAX_V2));
  }
  if (step.status === 'error') expect(isProxyProtocolError(step.error)).toBe(true);
  return step;
}

const sizes = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 });
const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();
const port = fc.integer({ min: 0, max: 65535 });

describe('fuzzing the decoder', () => {
  it('never throws on random bytes, whatever the chunking, and stays within its bounds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), sizes, (bytes, chunks) => {
        feed(bytes, chunks);
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on random bytes behind a valid signature (the interesting prefixes)', () => {
    const prefix = fc.constantFrom(Buffer.from('PROXY '), Buffer.from('PROXY TCP4 '), Buffer.from('PROXY TCP6 '), Buffer.concat([V2_SIGNATURE, Buffer.from([0x21])]), Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11])]), Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x21, 0x00, 0x40])]));
    const tail = fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.string({ maxLength: 120 }).map((s) => Buffer.from(s + '\r\n', 'latin1')));
    fc.assert(
      fc.property(prefix, tail, sizes, (head, rest, chunks) => {
        feed(Buffer.concat([head, rest]), chunks);
      }),
      { numRuns: 3000 },
    );
  });

  it('decodes every encoded header back, split anywhere, with the application bytes intact', () => {
    const endpoints = fc.oneof(
      fc.record({ s: ipv4, d: ipv4, sp: port, dp: port }),
      fc.record({ s: ipv6, d: ipv6, sp: port, dp: port }),
    );
    const app = fc.uint8Array({ maxLength: 40 });
    fc.assert(
      fc.property(endpoints, fc.boolean(), fc.boolean(), app, sizes, ({ s, d, sp, dp }, useV2, crc, appBytes, chunks) => {
        const header = useV2
          ? encodeV2({ source: { address: s, port: sp }, destination: { address: d, port: dp }, tlvs: { authority: 'example.com', crc32c: crc } })
          : encodeV1({ source: { address: s, port: sp }, destination: { address: d, port: dp } });
        const bytes = Buffer.concat([header, appBytes]);
        const decoder = new ProxyHeaderDecoder({ maxV2Bytes: MAX_V2 });
        let offset = 0;
        let i = 0;
        let step: DecodeStep = { status: 'incomplete', buffered: 0 };
        while (decoder.result === undefined && offset < bytes.length) {
          const size = chunks[i++ % chunks.length]!;
          step = decoder.push(bytes.subarray(offset, offset + size));
          offset += size;
        }
        expect(step.status).toBe('header');
        if (step.status !== 'header') return;
        const sameAddress = (text: string, decoded: string): boolean => decoded === text || normalise(text) === normalise(decoded);
        expect(sameAddress(s, step.header.source!.address)).toBe(true);
        expect(sameAddress(d, step.header.destination!.address)).toBe(true);
        expect(step.header.source!.port).toBe(sp);
        expect(Buffer.concat([step.header.rest, bytes.subarray(Math.min(offset, bytes.length))]).equals(Buffer.from(appBytes))).toBe(true);
      }),
      { numRuns: 1500 },
    );
  });

  it('never throws when any byte of a valid v2 header is corrupted', () => {
    const header = encodeV2({ source: { address: '2001:db8::1', port: 1 }, destination: { address: '2001:db8::2', port: 2 }, tlvs: { alpn: 'h2', ssl: { tls: true, version: 'TLSv1.3', commonName: 'x' }, crc32c: true } });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: header.length - 1 }), fc.integer({ min: 0, max: 255 }), sizes, (at, value, chunks) => {
        const copy = Buffer.from(header);
        copy[at] = value;
        const step = feed(copy, chunks);
        // The CRC32c covers every byte: a header that still carries it after a change past the
        // signature would be a missed corruption. (A change can hide the checksum itself: the CRC
        // TLV's type byte, a length swallowing it into another TLV, or a family turned AF_UNSPEC,
        // whose TLVs are skipped as HAProxy does; no client address is taken from those.)
        if (value !== header[at] && at >= 12 && step.status === 'header') expect(step.header.tlvs.crc32c).toBeUndefined();
      }),
      { numRuns: 3000 },
    );
  });
});

/** Expands an IPv6 text to 8 four-digit groups for comparison (fast-check prints non-canonical forms). */
function normalise(text: string): string {
  if (!text.includes(':')) return text;
  let [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const toGroups = (part: string | undefined): string[] => {
    if (!part) return [];
    return part.split(':').flatMap((g) => {
      if (!g.includes('.')) return [g.padStart(4, '0').toLowerCase()];
      const [a, b, c, d] = g.split('.').map(Number);
      return [((a! << 8) | b!).toString(16).padStart(4, '0'), ((c! << 8) | d!).toString(16).padStart(4, '0')];
    });
  };
  const h = toGroups(head);
  const t = toGroups(tail);
  head = '';
  return [...h, ...Array(8 - h.length - t.length).fill('0000'), ...t].join(':');
}

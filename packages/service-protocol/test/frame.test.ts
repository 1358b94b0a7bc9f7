import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLAG_FIRST, FLAG_LAST, FLAGS_SINGLE, FRAME_HEADER_SIZE, FrameDecoder, MessageType, encodeFrame, type ChannelError } from '../src/index.js';

interface Seen {
  frames: { type: number; flags: number; id: number; payload: string }[];
  errors: ChannelError[];
}

function decoderFor(maxFramePayload = 65_536): { decoder: FrameDecoder; seen: Seen } {
  const seen: Seen = { frames: [], errors: [] };
  const decoder = new FrameDecoder(
    {
      frame: (type, flags, id, payload) => seen.frames.push({ type, flags, id, payload: payload.toString('hex') }),
      error: (error) => seen.errors.push(error),
    },
    maxFramePayload,
  );
  return { decoder, seen };
}

describe('frame header (§3.1)', () => {
  it('lays out version, type, flags, reserved, u64 id and u32 length big-endian', () => {
    const frame = encodeFrame(MessageType.STANZA, FLAG_FIRST, 0x0102_0304_0506, Buffer.from('abc'));
    expect(frame.subarray(0, FRAME_HEADER_SIZE).toString('hex')).toBe('01' + '10' + '01' + '00' + '0000010203040506' + '00000003');
    expect(frame.subarray(FRAME_HEADER_SIZE).toString()).toBe('abc');
  });

  it('carries ids up to 2^53 - 1', () => {
    const { decoder, seen } = decoderFor();
    decoder.push(encodeFrame(MessageType.STANZA, FLAGS_SINGLE, Number.MAX_SAFE_INTEGER, Buffer.from('x')));
    expect(seen.frames[0]?.id).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('FrameDecoder', () => {
  const frames = [
    encodeFrame(MessageType.PING, FLAGS_SINGLE, 0, Buffer.from('0102030405060708', 'hex')),
    encodeFrame(MessageType.STANZA, FLAG_FIRST, 7, Buffer.alloc(300, 0x61)),
    encodeFrame(MessageType.STANZA, 0, 7, Buffer.alloc(5, 0x62)),
    encodeFrame(MessageType.STANZA, FLAG_LAST, 7, Buffer.alloc(1, 0x63)),
    encodeFrame(MessageType.ACK, FLAGS_SINGLE, 0, Buffer.alloc(10)),
  ];
  const stream = Buffer.concat(frames);

  it('decodes a stream split at every byte offset, including inside headers', () => {
    const reference = decoderFor();
    reference.decoder.push(stream);
    expect(reference.seen.frames).toHaveLength(5);
    for (let split = 1; split < stream.length; split++) {
      const { decoder, seen } = decoderFor();
      decoder.push(stream.subarray(0, split));
      decoder.push(stream.subarray(split));
      expect(seen.frames, `split at ${split}`).toEqual(reference.seen.frames);
      expect(seen.errors).toEqual([]);
    }
  });

  it('decodes byte by byte', () => {
    const { decoder, seen } = decoderFor();
    for (let index = 0; index < stream.length; index++) decoder.push(stream.subarray(index, index + 1));
    expect(seen.frames).toHaveLength(5);
    expect(seen.frames[1]).toMatchObject({ type: MessageType.STANZA, flags: FLAG_FIRST, id: 7 });
  });

  it('round-trips random frames under random splits (property)', () => {
    const frameArbitrary = fc.record({
      type: fc.constantFrom(MessageType.STANZA, MessageType.SESSION_EVENT, MessageType.REPLY),
      flags: fc.constantFrom(0, FLAG_FIRST, FLAG_LAST, FLAGS_SINGLE),
      id: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      payload: fc.uint8Array({ maxLength: 700 }),
    });
    fc.assert(
      fc.property(fc.array(frameArbitrary, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (input, cuts) => {
        const bytes = Buffer.concat(input.map((frame) => encodeFrame(frame.type, frame.flags, frame.id, Buffer.from(frame.payload))));
        const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
        const { decoder, seen } = decoderFor();
        let previous = 0;
        for (const point of [...points, bytes.length]) {
          decoder.push(bytes.subarray(previous, point));
          previous = point;
        }
        expect(seen.errors).toEqual([]);
        expect(seen.frames).toEqual(input.map((frame) => ({ type: frame.type, flags: frame.flags, id: frame.id, payload: Buffer.from(frame.payload).toString('hex') })));
      }),
    );
  });

  it('rejects an oversized frame from its header alone, before buffering any payload', () => {
    const { decoder, seen } = decoderFor(1024);
    const header = Buffer.alloc(FRAME_HEADER_SIZE);
    encodeFrame(MessageType.STANZA, FLAGS_SINGLE, 1, Buffer.alloc(0)).copy(header);
    header.writeUInt32BE(0xffff_fff0, 12);
    decoder.push(header);
    expect(seen.errors.map((error) => error.code)).toEqual(['frame-too-large']);
    expect(decoder.bufferedBytes).toBe(0);
    decoder.push(Buffer.alloc(100_000));
    expect(seen.frames).toEqual([]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it.each([
    ['unsupported-version', (b: Buffer) => (b[0] = 2)],
    ['unknown-type', (b: Buffer) => (b[1] = 0x7f)],
    ['malformed-frame', (b: Buffer) => (b[2] = 0x04)],
    ['malformed-frame', (b: Buffer) => (b[3] = 1)],
    ['malformed-frame', (b: Buffer) => b.writeUInt32BE(0x0020_0000, 4)],
  ])('reports %s and stops', (code, corrupt) => {
    const bytes = encodeFrame(MessageType.STANZA, FLAGS_SINGLE, 1, Buffer.from('x'));
    corrupt(bytes);
    const { decoder, seen } = decoderFor();
    decoder.push(bytes);
    decoder.push(encodeFrame(MessageType.STANZA, FLAGS_SINGLE, 2, Buffer.from('y')));
    expect(seen.errors.map((error) => error.code)).toEqual([code]);
    expect(seen.frames).toEqual([]);
    expect(decoder.stopped).toBe(true);
  });

  it('requires id 0 and FIRST|LAST on link messages and an id on sequenced ones', () => {
    for (const bytes of [
      encodeFrame(MessageType.ACK, FLAGS_SINGLE, 3, Buffer.alloc(10)),
      encodeFrame(MessageType.PING, FLAG_FIRST, 0, Buffer.alloc(8)),
      encodeFrame(MessageType.STANZA, FLAGS_SINGLE, 0, Buffer.from('x')),
    ]) {
      const { decoder, seen } = decoderFor();
      decoder.push(bytes);
      expect(seen.errors.map((error) => error.code)).toEqual(['malformed-frame']);
    }
  });

  it('never throws on arbitrary bytes and holds at most header + limit (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), (chunks) => {
        const { decoder, seen } = decoderFor(512);
        for (const chunk of chunks) {
          expect(() => decoder.push(Buffer.from(chunk))).not.toThrow();
          expect(decoder.bufferedBytes).toBeLessThanOrEqual(FRAME_HEADER_SIZE + 512);
        }
        expect(seen.errors.length).toBeLessThanOrEqual(1);
      }),
    );
  });
});

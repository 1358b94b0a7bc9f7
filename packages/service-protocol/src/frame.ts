// Frames (docs/service-protocol.md §3): a 16-byte header, then the payload.
import { type ChannelError, protocolError } from './errors.js';
import { PROTOCOL_VERSION } from './limits.js';

export const FRAME_HEADER_SIZE = 16;

/** §3.1 flags. */
export const FLAG_FIRST = 0x01;
export const FLAG_LAST = 0x02;
export const FLAGS_SINGLE = FLAG_FIRST | FLAG_LAST;
const FLAGS_KNOWN = FLAGS_SINGLE;

/** §4.1: type codes. Link types 0x01–0x0F, sequenced types 0x10–0x3F. */
export const MessageType = {
  HELLO: 0x01,
  RESUME: 0x02,
  WELCOME: 0x03,
  ACK: 0x04,
  PING: 0x05,
  PONG: 0x06,
  ERROR: 0x07,
  CLOSE: 0x08,
  STANZA: 0x10,
  SESSION_EVENT: 0x11,
  DELIVERY: 0x12,
  REGISTER: 0x13,
  UNREGISTER: 0x14,
  REPLY: 0x15,
  SEE_OTHER_HOST_QUERY: 0x16,
  USER_LOOKUP: 0x17,
  ADMIN: 0x18,
} as const;
export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType];

const TYPE_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(MessageType).map(([name, code]) => [code, name]));

export function messageTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `0x${type.toString(16).padStart(2, '0')}`;
}
export function isKnownType(type: number): type is MessageTypeCode {
  return TYPE_NAMES.has(type);
}
/** Link messages: id 0, single frame, never acked (§1, §3.1). */
export function isLinkType(type: number): boolean {
  return type >= 0x01 && type <= 0x0f;
}

/** Ids are u64 on the wire and must stay below 2^53: the high word is below 2^21. */
const MAX_ID_HIGH_WORD = 0x1f_ffff;
const TWO_32 = 0x1_0000_0000;

export function writeId(target: Buffer, offset: number, id: number): void {
  target.writeUInt32BE(Math.floor(id / TWO_32), offset);
  target.writeUInt32BE(id >>> 0, offset + 4);
}

/** Reads a u64 id; returns -1 when it is 2^53 or more. */
export function readId(source: Buffer, offset: number): number {
  const high = source.readUInt32BE(offset);
  if (high > MAX_ID_HIGH_WORD) return -1;
  return high * TWO_32 + source.readUInt32BE(offset + 4);
}

export function writeFrameHeader(target: Buffer, offset: number, type: number, flags: number, id: number, length: number): void {
  target[offset] = PROTOCOL_VERSION;
  target[offset + 1] = type;
  target[offset + 2] = flags;
  target[offset + 3] = 0;
  writeId(target, offset + 4, id);
  target.writeUInt32BE(length, offset + 12);
}

/** One whole frame in a new buffer (tests, handshake and control messages). */
export function encodeFrame(type: number, flags: number, id: number, payload: Buffer | readonly Buffer[]): Buffer {
  const parts = Buffer.isBuffer(payload) ? [payload] : payload;
  let length = 0;
  for (const part of parts) length += part.length;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_SIZE + length);
  writeFrameHeader(frame, 0, type, flags, id, length);
  let offset = FRAME_HEADER_SIZE;
  for (const part of parts) offset += part.copy(frame, offset);
  return frame;
}

export interface FrameSink {
  /** A complete frame. `payload` may be a view into a buffer given to push(): copy to keep it beyond the message's life. */
  frame(type: number, flags: number, id: number, payload: Buffer): void;
  /** The first protocol error; the decoder stops and ignores all further input. */
  error(error: ChannelError): void;
}

/** §3.1 header rules that do not depend on the payload. Returns an error or undefined. */
export function checkFrameHeader(version: number, type: number, flags: number, reserved: number, id: number, length: number, maxFramePayload: number): ChannelError | undefined {
  if (version !== PROTOCOL_VERSION) return protocolError('unsupported-version', `frame version ${version}, expected ${PROTOCOL_VERSION}`);
  if (!isKnownType(type)) return protocolError('unknown-type', `frame type ${messageTypeName(type)} is not assigned`);
  if ((flags & ~FLAGS_KNOWN) !== 0 || reserved !== 0) return protocolError('malformed-frame', `reserved bits set in ${messageTypeName(type)} frame`);
  if (id < 0) return protocolError('malformed-frame', 'message id is 2^53 or more');
  if (isLinkType(type)) {
    if (id !== 0 || flags !== FLAGS_SINGLE) return protocolError('malformed-frame', `${messageTypeName(type)} must have id 0 and flags FIRST|LAST`);
  } else if (id === 0) {
    return protocolError('malformed-frame', `${messageTypeName(type)} must have an id of 1 or more`);
  }
  if (length > maxFramePayload) return protocolError('frame-too-large', `${messageTypeName(type)} frame of ${length} bytes, limit ${maxFramePayload}`, id || undefined);
  return undefined;
}

const DecodeState = { Header: 0, Payload: 1, Stopped: 2 } as const;
type DecodeState = (typeof DecodeState)[keyof typeof DecodeState];

/**
 * A streaming frame decoder: takes buffers split anywhere and emits whole frames. Every header
 * check, the size limit included, runs before a payload byte is buffered (§3.2). It never throws:
 * a violation is reported once through `sink.error` and the decoder stops.
 *
 * A payload contained in one pushed buffer is emitted as a view of it (no copy); one spanning
 * buffers is assembled in a buffer of exactly its length, allocated once the header is checked.
 */
export class FrameDecoder {
  private state: DecodeState = DecodeState.Header;
  private readonly header = Buffer.alloc(FRAME_HEADER_SIZE);
  private headerFill = 0;
  private type = 0;
  private flags = 0;
  private id = 0;
  private payload: Buffer | undefined = undefined;
  private payloadFill = 0;
  private maxFramePayload: number;
  private readonly sink: FrameSink;

  constructor(sink: FrameSink, maxFramePayload: number) {
    this.sink = sink;
    this.maxFramePayload = maxFramePayload;
  }

  setMaxFramePayload(value: number): void {
    this.maxFramePayload = value;
  }

  /** Bytes held for an unfinished frame (bounded by the header size plus maxFramePayload). */
  get bufferedBytes(): number {
    return this.state === DecodeState.Payload ? this.payloadFill + FRAME_HEADER_SIZE : this.headerFill;
  }

  get stopped(): boolean {
    return this.state === DecodeState.Stopped;
  }

  /** Stops decoding; later input is ignored. */
  stop(): void {
    this.state = DecodeState.Stopped;
    this.payload = undefined;
  }

  push(chunk: Buffer): void {
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      if (this.state === DecodeState.Header) {
        let source: Buffer;
        let at: number;
        if (this.headerFill === 0 && end - offset >= FRAME_HEADER_SIZE) {
          source = chunk;
          at = offset;
          offset += FRAME_HEADER_SIZE;
        } else {
          const take = Math.min(FRAME_HEADER_SIZE - this.headerFill, end - offset);
          chunk.copy(this.header, this.headerFill, offset, offset + take);
          this.headerFill += take;
          offset += take;
          if (this.headerFill < FRAME_HEADER_SIZE) return;
          this.headerFill = 0;
          source = this.header;
          at = 0;
        }
        const type = source[at + 1]!;
        const flags = source[at + 2]!;
        const id = readId(source, at + 4);
        const length = source.readUInt32BE(at + 12);
        const problem = checkFrameHeader(source[at]!, type, flags, source[at + 3]!, id, length, this.maxFramePayload);
        if (problem !== undefined) {
          this.fail(problem);
          return;
        }
        if (end - offset >= length) {
          const payload = chunk.subarray(offset, offset + length);
          offset += length;
          this.sink.frame(type, flags, id, payload);
          if (this.stopped) return;
          continue;
        }
        this.type = type;
        this.flags = flags;
        this.id = id;
        this.payload = Buffer.allocUnsafe(length);
        this.payloadFill = 0;
        this.state = DecodeState.Payload;
      } else if (this.state === DecodeState.Payload) {
        const payload = this.payload!;
        const take = Math.min(payload.length - this.payloadFill, end - offset);
        chunk.copy(payload, this.payloadFill, offset, offset + take);
        this.payloadFill += take;
        offset += take;
        if (this.payloadFill < payload.length) return;
        this.payload = undefined;
        this.state = DecodeState.Header;
        this.sink.frame(this.type, this.flags, this.id, payload);
        if (this.stopped) return;
      } else {
        return;
      }
    }
  }

  private fail(error: ChannelError): void {
    this.stop();
    this.sink.error(error);
  }
}

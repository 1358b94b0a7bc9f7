// The incremental decoder: bytes in, split anywhere, until a header, an error, or the certainty
// that the bytes are no PROXY header at all. It never holds more than the header's own bytes
// (at most 107 for v1, `maxV2Bytes` for v2) and never throws on peer input.
import { malformed, ProxyErrorCode, ProxyProtocolError } from './errors.js';
import type { DecodedProxyHeader } from './types.js';
import { decodeV1Line, V1_MAX_LENGTH, V1_PREFIX } from './v1.js';
import { checkFamilyTransport, checkVersionCommand, decodeV2, V2_FIXED_LENGTH, V2_MAX_POSSIBLE_LENGTH, V2_SIGNATURE } from './v2.js';

/** Default bound of a v2 header (16-byte fixed part + addresses + TLVs). */
export const DEFAULT_MAX_V2_BYTES = 1024;

export interface DecoderOptions {
  /**
   * Largest v2 header accepted, fixed part included (16..65551, default 1024): room for an
   * AF_UNIX block (216) or IPv6 (36) plus ALPN, authority, a 128-byte unique id and an SSL TLV
   * with version, cipher, algorithms and a client certificate CN. Longer headers are TOO_LONG.
   */
  readonly maxV2Bytes?: number;
}

export type DecodeStep =
  /** More bytes are needed; `buffered` bytes are held (bounded as above). */
  | { readonly status: 'incomplete'; readonly buffered: number }
  | { readonly status: 'header'; readonly header: DecodedProxyHeader }
  /** The bytes cannot start a PROXY header; `rest` is every byte seen, for the application. */
  | { readonly status: 'absent'; readonly rest: Buffer }
  | { readonly status: 'error'; readonly error: ProxyProtocolError };

enum Phase {
  Detect,
  V1,
  V2Fixed,
  V2Body,
  Finished,
}

const CR = 0x0d;
const LF = 0x0a;

export class ProxyHeaderDecoder {
  readonly maxV2Bytes: number;
  private phase = Phase.Detect;
  /** Header bytes so far: 107 bytes until the version is known, then exactly 16 + len for v2. */
  private buffer: Buffer | undefined = undefined;
  private length = 0;
  private final: DecodeStep | undefined = undefined;
  private finishedVersion: 1 | 2 | undefined = undefined;

  constructor(options: DecoderOptions = {}) {
    const max = options.maxV2Bytes ?? DEFAULT_MAX_V2_BYTES;
    if (!Number.isInteger(max) || max < V2_FIXED_LENGTH || max > V2_MAX_POSSIBLE_LENGTH) {
      throw new RangeError(`maxV2Bytes must be an integer in ${V2_FIXED_LENGTH}..${V2_MAX_POSSIBLE_LENGTH}`);
    }
    this.maxV2Bytes = max;
  }

  /** 1 or 2 once a full signature ("PROXY" or the v2 block) was seen, else undefined. */
  get version(): 1 | 2 | undefined {
    if (this.phase === Phase.V1) return 1;
    if (this.phase === Phase.V2Fixed || this.phase === Phase.V2Body) return 2;
    if (this.phase === Phase.Finished && this.final?.status === 'header') return this.final.header.version;
    return this.finishedVersion;
  }

  /** The terminal step once reached (header, absent or error), else undefined. */
  get result(): DecodeStep | undefined {
    return this.final;
  }

  /**
   * Feeds the next bytes. After a terminal step, feeding more is a caller bug (the bytes
   * belong to the application) and throws.
   */
  push(chunk: Uint8Array): DecodeStep {
    if (this.phase === Phase.Finished) throw new Error('ProxyHeaderDecoder: push() after the header was decided');
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let offset = 0;
    while (offset < bytes.length && this.final === undefined) {
      switch (this.phase) {
        case Phase.Detect:
          offset = this.detect(bytes, offset);
          break;
        case Phase.V1:
          offset = this.scanV1(bytes, offset);
          break;
        case Phase.V2Fixed:
          offset = this.v2Fixed(bytes, offset);
          break;
        default:
          offset = this.v2Body(bytes, offset);
          break;
      }
    }
    if (this.final !== undefined) {
      this.phase = Phase.Finished;
      return this.final;
    }
    return { status: 'incomplete', buffered: this.length };
  }

  private fail(error: ProxyProtocolError): void {
    this.finishedVersion = this.version;
    this.buffer = undefined;
    this.final = { status: 'error', error };
  }

  /** §2.2 "Identifying the protocol version": "PROXY" means v1, the 12-byte signature v2. */
  private detect(bytes: Buffer, offset: number): number {
    const first = this.length === 0 ? bytes[offset] : this.buffer![0];
    const signature = first === V1_PREFIX[0] ? V1_PREFIX : first === V2_SIGNATURE[0] ? V2_SIGNATURE : undefined;
    const heldBefore = this.length;
    let i = offset;
    while (i < bytes.length && this.length < (signature?.length ?? 0) && signature![this.length] === bytes[i]) {
      this.buffer ??= Buffer.allocUnsafe(V1_MAX_LENGTH);
      this.buffer[this.length++] = bytes[i++]!;
    }
    if (signature !== undefined && this.length === signature.length) {
      this.phase = signature === V1_PREFIX ? Phase.V1 : Phase.V2Fixed;
    } else if (i < bytes.length) {
      // A byte differing from both signatures: no PROXY header; every byte seen goes back.
      const earlier = heldBefore === 0 ? undefined : this.buffer!.subarray(0, heldBefore);
      this.buffer = undefined;
      this.final = { status: 'absent', rest: earlier === undefined ? bytes.subarray(offset) : Buffer.concat([earlier, bytes.subarray(offset)]) };
    }
    return i;
  }

  /** The v1 line: printable US-ASCII up to CRLF within 107 bytes (§2.1: a lone CR or LF is refused). */
  private scanV1(bytes: Buffer, offset: number): number {
    const buffer = this.buffer!;
    let i = offset;
    let previous = buffer[this.length - 1];
    const limit = Math.min(bytes.length, offset + (V1_MAX_LENGTH - this.length));
    for (; i < limit; i++) {
      const byte = bytes[i]!;
      if (previous === CR && byte !== LF) {
        this.fail(malformed('v1: CR not followed by LF'));
        return i;
      }
      if (byte === LF) {
        if (previous !== CR) {
          this.fail(malformed('v1: LF without CR'));
          return i;
        }
        bytes.copy(buffer, this.length, offset, i + 1);
        this.length += i + 1 - offset;
        const header = decodeV1Line(buffer.toString('latin1', 0, this.length - 2), this.length, bytes.subarray(i + 1));
        if (header instanceof ProxyProtocolError) this.fail(header);
        else this.final = { status: 'header', header };
        return i + 1;
      }
      if (byte !== CR && (byte < 0x20 || byte > 0x7e)) {
        this.fail(malformed('v1: the line is not printable US-ASCII'));
        return i;
      }
      previous = byte;
    }
    bytes.copy(buffer, this.length, offset, i);
    this.length += i - offset;
    if (this.length === V1_MAX_LENGTH && i < bytes.length) {
      this.fail(new ProxyProtocolError(ProxyErrorCode.TOO_LONG, `v1: no CRLF in the first ${V1_MAX_LENGTH} bytes`));
    }
    return i;
  }

  /** Bytes 13-16; the version/command and family bytes are judged as soon as they arrive. */
  private v2Fixed(bytes: Buffer, offset: number): number {
    let i = offset;
    while (i < bytes.length && this.length < V2_FIXED_LENGTH) {
      const byte = bytes[i++]!;
      this.buffer![this.length++] = byte;
      const error = this.length === 13 ? checkVersionCommand(byte) : this.length === 14 ? checkFamilyTransport(byte) : undefined;
      if (error) {
        this.fail(error);
        return i;
      }
    }
    if (this.length < V2_FIXED_LENGTH) return i;
    const total = V2_FIXED_LENGTH + this.buffer!.readUInt16BE(14);
    if (total > this.maxV2Bytes) {
      this.fail(new ProxyProtocolError(ProxyErrorCode.TOO_LONG, `v2: header of ${total} bytes exceeds the limit of ${this.maxV2Bytes}`));
      return i;
    }
    const exact = Buffer.allocUnsafe(total);
    this.buffer!.copy(exact, 0, 0, V2_FIXED_LENGTH);
    this.buffer = exact;
    this.phase = Phase.V2Body;
    return total === V2_FIXED_LENGTH ? this.v2Body(bytes, i) : i;
  }

  private v2Body(bytes: Buffer, offset: number): number {
    const buffer = this.buffer!;
    const take = Math.min(buffer.length - this.length, bytes.length - offset);
    bytes.copy(buffer, this.length, offset, offset + take);
    this.length += take;
    const end = offset + take;
    if (this.length === buffer.length) {
      const header = decodeV2(buffer, bytes.subarray(end));
      if (header instanceof ProxyProtocolError) this.fail(header);
      else this.final = { status: 'header', header };
    }
    return end;
  }
}

/**
 * One-shot decoding of a buffer that should start with a complete header. `incomplete` means
 * the buffer ended inside the header.
 */
export function decodeProxyHeader(bytes: Uint8Array, options?: DecoderOptions): DecodeStep {
  return new ProxyHeaderDecoder(options).push(bytes);
}

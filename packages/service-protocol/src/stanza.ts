// STANZA payloads (docs/service-protocol.md §4.2): a compact binary routing context followed by
// the stanza's raw UTF-8 XML, so the hot path never JSON-encodes or re-encodes stanza text.
import { isUtf8 } from 'node:buffer';
import { malformed } from './json.js';
import { MAX_GATEWAY_ID_BYTES, MAX_KEY_BYTES, MAX_ORIGIN_BYTES, MAX_SESSION_ID_BYTES } from './limits.js';

export type StanzaDirection = 'to-service' | 'to-gateway';
/**
 * to-service: how the stanza arrived (c2s, s2s, or from another service).
 * to-gateway: how to deliver it (to the session named, route by `to`, s2s, or to a service).
 */
export type StanzaVia = 'routed' | 'c2s' | 's2s' | 'service';

export interface RoutingContext {
  direction: StanzaDirection;
  via: StanzaVia;
  /** The gateway the stanza came from (to-service) or that holds the target session (to-gateway). */
  gateway: string;
  /** Client session id (c2s), s2s stream id, or empty. */
  session: string;
  /** Authenticated origin: full JID bound on c2s, verified domain on s2s, the service's domain to-gateway. */
  origin: string;
  /** Stable, cluster-unique stanza key assigned where the stanza entered; may be empty. */
  key: string;
  /** to-gateway only: the gateway reports delivery to the client (§9). */
  deliveryReport: boolean;
  /** The stanza may have been handed to another channel before (§10.5). */
  redelivered: boolean;
}

const DIRECTION_CODES: Record<StanzaDirection, number> = { 'to-service': 1, 'to-gateway': 2 };
const VIA_CODES: Record<StanzaVia, number> = { routed: 0, c2s: 1, s2s: 2, service: 3 };
const DIRECTIONS: readonly (StanzaDirection | undefined)[] = [undefined, 'to-service', 'to-gateway'];
const VIAS: readonly StanzaVia[] = ['routed', 'c2s', 's2s', 'service'];

const FLAG_DELIVERY_REPORT = 0x01;
const FLAG_REDELIVERED = 0x02;
const STANZA_FIXED_BYTES = 4;

const WHAT = 'STANZA';

function contextProblem(context: RoutingContext): string | undefined {
  if (context.direction === 'to-service') {
    if (context.via === 'routed') return 'a to-service stanza must say how it arrived (c2s, s2s or service)';
    if (context.deliveryReport) return 'only a to-gateway stanza may request a delivery report';
  }
  if (context.via === 'c2s' && context.session.length === 0) return 'a c2s stanza needs a session id';
  if (context.gateway.length === 0) return 'gateway must not be empty';
  if (context.origin.length === 0) return 'origin must not be empty';
  return undefined;
}

/**
 * The routing-context prefix of a STANZA payload; the payload is `[prefix, xml]`.
 * Throws a TypeError for a context the protocol cannot carry (a programming error).
 */
export function encodeRoutingContext(context: RoutingContext): Buffer {
  const direction = DIRECTION_CODES[context.direction];
  const via = VIA_CODES[context.via];
  if (direction === undefined || via === undefined) throw new TypeError(`invalid routing context direction/via: ${context.direction}/${context.via}`);
  const problem = contextProblem(context);
  if (problem !== undefined) throw new TypeError(`invalid routing context: ${problem}`);
  const gatewayBytes = Buffer.byteLength(context.gateway, 'utf8');
  const sessionBytes = Buffer.byteLength(context.session, 'utf8');
  const originBytes = Buffer.byteLength(context.origin, 'utf8');
  const keyBytes = Buffer.byteLength(context.key, 'utf8');
  if (gatewayBytes > MAX_GATEWAY_ID_BYTES || sessionBytes > MAX_SESSION_ID_BYTES || originBytes > MAX_ORIGIN_BYTES || keyBytes > MAX_KEY_BYTES) {
    throw new TypeError('routing context field too long (gateway, session, key ≤ 255 bytes, origin ≤ 3071 bytes)');
  }
  const buffer = Buffer.allocUnsafe(STANZA_FIXED_BYTES + 8 + gatewayBytes + sessionBytes + originBytes + keyBytes);
  buffer[0] = direction;
  buffer[1] = via;
  buffer[2] = (context.deliveryReport ? FLAG_DELIVERY_REPORT : 0) | (context.redelivered ? FLAG_REDELIVERED : 0);
  buffer[3] = 0;
  let offset = STANZA_FIXED_BYTES;
  offset = writeString(buffer, offset, context.gateway, gatewayBytes);
  offset = writeString(buffer, offset, context.session, sessionBytes);
  offset = writeString(buffer, offset, context.origin, originBytes);
  writeString(buffer, offset, context.key, keyBytes);
  return buffer;
}

function writeString(buffer: Buffer, offset: number, value: string, byteLength: number): number {
  buffer.writeUInt16BE(byteLength, offset);
  if (byteLength > 0) buffer.write(value, offset + 2, byteLength, 'utf8');
  return offset + 2 + byteLength;
}

export interface DecodedStanza {
  context: RoutingContext;
  /** A view of the payload: no copy. */
  xml: Buffer;
}

export function decodeStanza(payload: Buffer): DecodedStanza {
  if (payload.length < STANZA_FIXED_BYTES + 8) throw malformed(WHAT, 'payload shorter than its routing context');
  const direction = DIRECTIONS[payload[0]!];
  const via = VIAS[payload[1]!];
  const flags = payload[2]!;
  if (direction === undefined) throw malformed(WHAT, `unknown direction ${payload[0]}`);
  if (via === undefined) throw malformed(WHAT, `unknown via ${payload[1]}`);
  if ((flags & ~(FLAG_DELIVERY_REPORT | FLAG_REDELIVERED)) !== 0 || payload[3] !== 0) throw malformed(WHAT, 'reserved bits set');
  const cursor = { offset: STANZA_FIXED_BYTES };
  const gateway = readString(payload, cursor, MAX_GATEWAY_ID_BYTES, 'gateway');
  const session = readString(payload, cursor, MAX_SESSION_ID_BYTES, 'session');
  const origin = readString(payload, cursor, MAX_ORIGIN_BYTES, 'origin');
  const key = readString(payload, cursor, MAX_KEY_BYTES, 'key');
  if (cursor.offset >= payload.length) throw malformed(WHAT, 'no XML after the routing context');
  const context: RoutingContext = {
    direction,
    via,
    gateway,
    session,
    origin,
    key,
    deliveryReport: (flags & FLAG_DELIVERY_REPORT) !== 0,
    redelivered: (flags & FLAG_REDELIVERED) !== 0,
  };
  const problem = contextProblem(context);
  if (problem !== undefined) throw malformed(WHAT, problem);
  return { context, xml: payload.subarray(cursor.offset) };
}

function readString(payload: Buffer, cursor: { offset: number }, maxBytes: number, name: string): string {
  const at = cursor.offset;
  if (at + 2 > payload.length) throw malformed(WHAT, `${name} length past the end`);
  const length = payload.readUInt16BE(at);
  if (length > maxBytes) throw malformed(WHAT, `${name} longer than ${maxBytes} bytes`);
  const start = at + 2;
  const end = start + length;
  if (end > payload.length) throw malformed(WHAT, `${name} past the end`);
  cursor.offset = end;
  if (length === 0) return '';
  const bytes = payload.subarray(start, end);
  if (!isUtf8(bytes)) throw malformed(WHAT, `${name} is not valid UTF-8`);
  return bytes.toString('utf8');
}

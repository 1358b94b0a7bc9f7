// Every message of the service channel and its payload codec (docs/service-protocol.md §4).
// Control messages are JSON; the hot-path messages (STANZA, ACK, DELIVERY, PING) are binary.
import { protocolError } from './errors.js';
import { MessageType, type MessageTypeCode, messageTypeName, readId, writeId } from './frame.js';
import { type AckRecord, type IdRange, ackRecordProblem } from './id-set.js';
import { JsonReader, type JsonObject, type JsonValue, encodeJson, isJsonObject, malformed, parseJsonObject } from './json.js';
import {
  HEARTBEAT_MS_RANGE,
  MAX_CHANNEL_ID_BYTES,
  MAX_ERROR_CODE_BYTES,
  MAX_GATEWAY_ID_BYTES,
  MAX_INSTANCE_BYTES,
  MAX_MESSAGE_ID,
  MAX_RANGES_ACCEPTED,
  MAX_REGISTRATIONS_PER_CHANNEL,
  MAX_SESSION_ID_BYTES,
  PROTOCOL_VERSION,
  RECEIVE_LIMIT_RANGES,
  type ReceiveLimits,
  receiveLimitsProblem,
} from './limits.js';
import { type RoutingContext, decodeStanza, encodeRoutingContext } from './stanza.js';

// ---------------------------------------------------------------------------------------------
// Shared shapes

/** §13.3: what a registration names. */
export type ServiceType = 'client' | 'server' | 'component';
export const SERVICE_TYPES: readonly ServiceType[] = ['client', 'server', 'component'];

export interface Registration {
  domain: string;
  type: ServiceType;
}

/** A registration as it travels: validated by the gateway, not by the decoder (§13.3). */
export interface RegistrationRequest {
  domain: string;
  type: string;
}

export interface ReplyError {
  code: string;
  text?: string;
}

export type RegistrationResult = (RegistrationRequest & { ok: true }) | (RegistrationRequest & { ok: false; error: ReplyError });

// ---------------------------------------------------------------------------------------------
// Link messages (§6, §8.2, §12, §14)

export interface HelloMessage {
  kind: 'hello';
  protocol: number;
  instance: string;
  software?: string;
  limits: ReceiveLimits;
  registrations: RegistrationRequest[];
}

export interface ResumeMessage extends Omit<HelloMessage, 'kind'> {
  kind: 'resume';
  channel: string;
  /** Ids of G→S messages the service has acknowledged. */
  received: AckRecord;
  /** Highest S→G id the service has assigned. */
  sent: number;
}

export type ResumeError = 'unknown-channel' | 'not-authorized';

export interface WelcomeMessage {
  kind: 'welcome';
  protocol: number;
  channel: string;
  resumed: boolean;
  resumeError?: ResumeError;
  gateway: string;
  limits: ReceiveLimits;
  heartbeatMs: number;
  deadAfterMs: number;
  registrations: RegistrationResult[];
  /** Resumed only: ids of S→G messages the gateway has acknowledged. */
  received?: AckRecord;
  /** Resumed only: highest G→S id the gateway has assigned. */
  sent?: number;
}

export interface AckMessage {
  kind: 'ack';
  record: AckRecord;
}

export interface PingMessage {
  kind: 'ping';
  nonce: Buffer;
}

export interface PongMessage {
  kind: 'pong';
  nonce: Buffer;
}

export interface ErrorMessage {
  kind: 'error';
  code: string;
  text?: string;
  id?: number;
}

export interface CloseMessage {
  kind: 'close';
  reason: string;
  text?: string;
}

export type LinkMessage = HelloMessage | ResumeMessage | WelcomeMessage | AckMessage | PingMessage | PongMessage | ErrorMessage | CloseMessage;

// ---------------------------------------------------------------------------------------------
// Sequenced messages (§4.2, §4.3, §9, §13)

export interface StanzaMessage {
  kind: 'stanza';
  context: RoutingContext;
  /** Raw UTF-8 bytes of one stanza. */
  xml: Buffer;
}

export type SessionEventName = 'bound' | 'resumed' | 'detached' | 'closed' | 'client-state';
export const SESSION_EVENT_NAMES: readonly SessionEventName[] = ['bound', 'resumed', 'detached', 'closed', 'client-state'];

export interface SessionEventMessage {
  kind: 'session-event';
  event: SessionEventName;
  gateway: string;
  session: string;
  /** Full JID of the session. */
  jid: string;
  /** `closed`: normal, timeout, conflict, kicked, shutdown, error, resume-timeout. */
  reason?: string;
  text?: string;
  /** `client-state` (XEP-0352). */
  state?: 'active' | 'inactive';
  /** `resumed`: the session id the client resumed. */
  previous?: string;
}

export type DeliveryOutcome = 'delivered' | 'undelivered';

export interface DeliveryMessage {
  kind: 'delivery';
  outcome: DeliveryOutcome;
  ranges: IdRange[];
}

export interface RegisterMessage extends RegistrationRequest {
  kind: 'register';
}

export interface UnregisterMessage extends RegistrationRequest {
  kind: 'unregister';
}

export type ReplyMessage = { kind: 'reply'; re: number; ok: true; result: JsonObject } | { kind: 'reply'; re: number; ok: false; error: ReplyError };

export interface SeeOtherHostQueryMessage {
  kind: 'see-other-host-query';
  domain: string;
  user?: string;
}

export interface UserLookupMessage {
  kind: 'user-lookup';
  domain: string;
  user: string;
  mechanisms: string[];
}

export type AdminCommand = 'list-sessions' | 'kick' | 'drain' | 'stats';
export const ADMIN_COMMANDS: readonly AdminCommand[] = ['list-sessions', 'kick', 'drain', 'stats'];

export interface AdminMessage {
  kind: 'admin';
  /** One of ADMIN_COMMANDS; others are answered `unknown-command` by the gateway. */
  command: string;
  args: JsonObject;
}

export type RequestMessage = RegisterMessage | UnregisterMessage | SeeOtherHostQueryMessage | UserLookupMessage | AdminMessage;
export type SequencedMessage = StanzaMessage | SessionEventMessage | DeliveryMessage | ReplyMessage | RequestMessage;
export type ChannelMessage = LinkMessage | SequencedMessage;

export type MessageKind = ChannelMessage['kind'];

export const KIND_TO_TYPE: Readonly<Record<MessageKind, MessageTypeCode>> = Object.freeze({
  hello: MessageType.HELLO,
  resume: MessageType.RESUME,
  welcome: MessageType.WELCOME,
  ack: MessageType.ACK,
  ping: MessageType.PING,
  pong: MessageType.PONG,
  error: MessageType.ERROR,
  close: MessageType.CLOSE,
  stanza: MessageType.STANZA,
  'session-event': MessageType.SESSION_EVENT,
  delivery: MessageType.DELIVERY,
  register: MessageType.REGISTER,
  unregister: MessageType.UNREGISTER,
  reply: MessageType.REPLY,
  'see-other-host-query': MessageType.SEE_OTHER_HOST_QUERY,
  'user-lookup': MessageType.USER_LOOKUP,
  admin: MessageType.ADMIN,
});

/** §4.1: which side may send each sequenced kind. */
export const SEQUENCED_DIRECTIONS: Readonly<Record<SequencedMessage['kind'], 'to-gateway' | 'to-service' | 'both'>> = Object.freeze({
  stanza: 'both',
  'session-event': 'to-service',
  delivery: 'to-service',
  register: 'to-gateway',
  unregister: 'to-gateway',
  reply: 'both',
  'see-other-host-query': 'to-service',
  'user-lookup': 'to-service',
  admin: 'to-gateway',
});

// ---------------------------------------------------------------------------------------------
// Encoding

export interface EncodedMessage {
  type: MessageTypeCode;
  /** The payload in pieces, sent without concatenation (the STANZA XML stays where it is). */
  parts: Buffer[];
  size: number;
}

const MAX_DOMAIN_BYTES = 253;
const MAX_USER_BYTES = 1023;
const MAX_JID_BYTES = 3071;
const MAX_TEXT_BYTES = 1024;
const MAX_REASON_BYTES = 64;

function single(type: MessageTypeCode, payload: Buffer): EncodedMessage {
  return { type, parts: [payload], size: payload.length };
}

function withoutUndefined<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) if (member !== undefined && key !== 'kind') out[key] = member;
  return out as T;
}

function recordToJson(record: AckRecord): JsonObject {
  return { through: record.through, ranges: record.ranges.map(([start, end]) => [start, end]) };
}

export function encodeMessage(message: ChannelMessage): EncodedMessage {
  switch (message.kind) {
    case 'stanza': {
      const prefix = encodeRoutingContext(message.context);
      if (message.xml.length === 0) throw new TypeError('a stanza needs at least one byte of XML');
      return { type: MessageType.STANZA, parts: [prefix, message.xml], size: prefix.length + message.xml.length };
    }
    case 'ack':
      return single(MessageType.ACK, encodeAckPayload(message.record));
    case 'delivery':
      return single(MessageType.DELIVERY, encodeDeliveryPayload(message.outcome, message.ranges));
    case 'ping':
    case 'pong':
      if (message.nonce.length !== 8) throw new TypeError('PING/PONG nonce must be 8 bytes');
      return single(message.kind === 'ping' ? MessageType.PING : MessageType.PONG, message.nonce);
    case 'hello':
      return single(MessageType.HELLO, encodeJson(withoutUndefined(message)));
    case 'resume':
      return single(MessageType.RESUME, encodeJson({ ...withoutUndefined(message), received: recordToJson(message.received) }));
    case 'welcome': {
      const body = withoutUndefined(message) as unknown as Record<string, unknown>;
      if (message.received !== undefined) body['received'] = recordToJson(message.received);
      return single(MessageType.WELCOME, encodeJson(body));
    }
    case 'error':
      return single(MessageType.ERROR, encodeJson(withoutUndefined(message)));
    case 'close':
      return single(MessageType.CLOSE, encodeJson(withoutUndefined(message)));
    case 'session-event':
      return single(MessageType.SESSION_EVENT, encodeJson(withoutUndefined(message)));
    case 'register':
      return single(MessageType.REGISTER, encodeJson({ domain: message.domain, type: message.type }));
    case 'unregister':
      return single(MessageType.UNREGISTER, encodeJson({ domain: message.domain, type: message.type }));
    case 'reply':
      return single(
        MessageType.REPLY,
        encodeJson(message.ok ? { re: message.re, ok: true, result: message.result } : { re: message.re, ok: false, error: withoutUndefined(message.error) }),
      );
    case 'see-other-host-query':
      return single(MessageType.SEE_OTHER_HOST_QUERY, encodeJson(withoutUndefined(message)));
    case 'user-lookup':
      return single(MessageType.USER_LOOKUP, encodeJson(withoutUndefined(message)));
    case 'admin':
      return single(MessageType.ADMIN, encodeJson({ command: message.command, args: message.args }));
  }
}

function writeRanges(out: Buffer, offset: number, ranges: readonly IdRange[]): void {
  for (const [start, end] of ranges) {
    writeId(out, offset, start);
    writeId(out, offset + 8, end);
    offset += 16;
  }
}

/** §8.2: `through` u64, count u16, ranges. */
export function encodeAckPayload(record: AckRecord): Buffer {
  if (record.ranges.length > MAX_RANGES_ACCEPTED) throw new TypeError(`an ACK carries at most ${MAX_RANGES_ACCEPTED} ranges`);
  const out = Buffer.allocUnsafe(10 + record.ranges.length * 16);
  writeId(out, 0, record.through);
  out.writeUInt16BE(record.ranges.length, 8);
  writeRanges(out, 10, record.ranges);
  return out;
}

/** §9: outcome u8, reserved u8, count u16, ranges. */
function encodeDeliveryPayload(outcome: DeliveryOutcome, ranges: readonly IdRange[]): Buffer {
  if (ranges.length === 0 || ranges.length > MAX_RANGES_ACCEPTED) throw new TypeError(`a delivery report carries 1 to ${MAX_RANGES_ACCEPTED} ranges`);
  const out = Buffer.allocUnsafe(4 + ranges.length * 16);
  out[0] = outcome === 'delivered' ? 1 : 2;
  out[1] = 0;
  out.writeUInt16BE(ranges.length, 2);
  writeRanges(out, 4, ranges);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding: every failure is a ChannelError `malformed-message` (thrown; callers catch).

function readRanges(payload: Buffer, offset: number, count: number, what: string): IdRange[] {
  if (count > MAX_RANGES_ACCEPTED) throw malformed(what, `more than ${MAX_RANGES_ACCEPTED} ranges`);
  if (payload.length !== offset + count * 16) throw malformed(what, `length ${payload.length} does not match ${count} ranges`);
  const ranges: IdRange[] = [];
  for (let index = 0; index < count; index++) {
    const start = readId(payload, offset);
    const end = readId(payload, offset + 8);
    if (start < 1 || end < 1) throw malformed(what, 'range id out of range');
    ranges.push([start, end]);
    offset += 16;
  }
  return ranges;
}

export function decodeAck(payload: Buffer): AckRecord {
  if (payload.length < 10) throw protocolError('invalid-ack', 'ACK payload shorter than 10 bytes');
  const through = readId(payload, 0);
  if (through < 0) throw protocolError('invalid-ack', 'ACK watermark out of range');
  const count = payload.readUInt16BE(8);
  let ranges: IdRange[];
  try {
    ranges = readRanges(payload, 10, count, 'ACK');
  } catch (error) {
    throw protocolError('invalid-ack', (error as Error).message);
  }
  const record = { through, ranges };
  const problem = ackRecordProblem(record);
  if (problem !== undefined) throw protocolError('invalid-ack', problem);
  return record;
}

function decodeDelivery(payload: Buffer): DeliveryMessage {
  const what = 'DELIVERY';
  if (payload.length < 4) throw malformed(what, 'payload shorter than 4 bytes');
  const outcome = payload[0] === 1 ? 'delivered' : payload[0] === 2 ? 'undelivered' : undefined;
  if (outcome === undefined || payload[1] !== 0) throw malformed(what, 'unknown outcome or reserved byte set');
  const count = payload.readUInt16BE(2);
  if (count === 0) throw malformed(what, 'no ranges');
  const ranges = readRanges(payload, 4, count, what);
  let previousEnd = 0;
  for (const [start, end] of ranges) {
    if (start <= previousEnd || end < start) throw malformed(what, 'ranges must be ascending and disjoint');
    previousEnd = end;
  }
  return { kind: 'delivery', outcome, ranges };
}

function readLimits(reader: JsonReader): ReceiveLimits {
  const limits = reader.object_('limits');
  const read = (key: keyof ReceiveLimits): number => limits.integer(key, RECEIVE_LIMIT_RANGES[key][0], RECEIVE_LIMIT_RANGES[key][1]);
  const result: ReceiveLimits = {
    maxFramePayload: read('maxFramePayload'),
    maxMessageBytes: read('maxMessageBytes'),
    windowBytes: read('windowBytes'),
    maxUnackedMessages: read('maxUnackedMessages'),
    maxPartialMessages: read('maxPartialMessages'),
  };
  const problem = receiveLimitsProblem(result);
  if (problem !== undefined) throw malformed(reader.what, problem);
  return result;
}

function readRegistrationRequest(value: JsonValue, what: string): RegistrationRequest {
  if (!isJsonObject(value)) throw malformed(what, 'registration must be an object');
  const reader = new JsonReader(value, what);
  return { domain: reader.string('domain', MAX_DOMAIN_BYTES), type: reader.string('type', 32) };
}

function readRegistrations(reader: JsonReader): RegistrationRequest[] {
  return reader.array('registrations', MAX_REGISTRATIONS_PER_CHANNEL).map((value) => readRegistrationRequest(value, `${reader.what}.registrations`));
}

function readReplyError(reader: JsonReader): ReplyError {
  const error = reader.object_('error');
  const text = error.optionalString('text', MAX_TEXT_BYTES);
  return text === undefined ? { code: error.string('code', MAX_ERROR_CODE_BYTES) } : { code: error.string('code', MAX_ERROR_CODE_BYTES), text };
}

function readRecord(reader: JsonReader, key: string): AckRecord {
  const object = reader.object_(key);
  const through = object.integer('through', 0, MAX_MESSAGE_ID);
  const ranges = object.array('ranges', MAX_RANGES_ACCEPTED).map((value): IdRange => {
    if (!Array.isArray(value) || value.length !== 2) throw malformed(object.what, 'each range must be [start, end]');
    const [start, end] = value;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || (start as number) < 1) throw malformed(object.what, 'range bounds must be positive integers');
    return [start as number, end as number];
  });
  const record = { through, ranges };
  const problem = ackRecordProblem(record);
  if (problem !== undefined) throw malformed(object.what, problem);
  return record;
}

function readHelloFields(reader: JsonReader): Omit<HelloMessage, 'kind'> {
  const protocol = reader.integer('protocol', 0, 0xffff);
  if (protocol !== PROTOCOL_VERSION) throw protocolError('unsupported-version', `protocol ${protocol}, expected ${PROTOCOL_VERSION}`);
  const software = reader.optionalString('software', MAX_INSTANCE_BYTES);
  return {
    protocol,
    instance: reader.string('instance', MAX_INSTANCE_BYTES),
    ...(software === undefined ? {} : { software }),
    limits: readLimits(reader),
    registrations: readRegistrations(reader),
  };
}

function decodeWelcome(reader: JsonReader): WelcomeMessage {
  const protocol = reader.integer('protocol', 0, 0xffff);
  if (protocol !== PROTOCOL_VERSION) throw protocolError('unsupported-version', `protocol ${protocol}, expected ${PROTOCOL_VERSION}`);
  const heartbeatMs = reader.integer('heartbeatMs', HEARTBEAT_MS_RANGE[0], HEARTBEAT_MS_RANGE[1]);
  const deadAfterMs = reader.integer('deadAfterMs', heartbeatMs * 3, HEARTBEAT_MS_RANGE[1] * 10);
  const resumed = reader.boolean('resumed');
  const registrations = reader.array('registrations', MAX_REGISTRATIONS_PER_CHANNEL).map((value): RegistrationResult => {
    const what = `${reader.what}.registrations`;
    const request = readRegistrationRequest(value, what);
    const item = new JsonReader(value as JsonObject, what);
    return item.boolean('ok') ? { ...request, ok: true } : { ...request, ok: false, error: readReplyError(item) };
  });
  const welcome: WelcomeMessage = {
    kind: 'welcome',
    protocol,
    channel: reader.string('channel', MAX_CHANNEL_ID_BYTES),
    resumed,
    gateway: reader.string('gateway', MAX_GATEWAY_ID_BYTES),
    limits: readLimits(reader),
    heartbeatMs,
    deadAfterMs,
    registrations,
  };
  const resumeError = reader.optionalString('resumeError', 64);
  if (resumeError !== undefined) {
    if (resumeError !== 'unknown-channel' && resumeError !== 'not-authorized') throw malformed(reader.what, `unknown resumeError ${resumeError}`);
    welcome.resumeError = resumeError;
  }
  if (resumed) {
    welcome.received = readRecord(reader, 'received');
    welcome.sent = reader.integer('sent', 0, MAX_MESSAGE_ID);
  }
  return welcome;
}

function decodeSessionEvent(reader: JsonReader): SessionEventMessage {
  const event = reader.oneOf('event', SESSION_EVENT_NAMES);
  const message: SessionEventMessage = {
    kind: 'session-event',
    event,
    gateway: reader.string('gateway', MAX_GATEWAY_ID_BYTES),
    session: reader.string('session', MAX_SESSION_ID_BYTES),
    jid: reader.string('jid', MAX_JID_BYTES),
  };
  if (event === 'closed') message.reason = reader.string('reason', MAX_REASON_BYTES);
  if (event === 'client-state') message.state = reader.oneOf('state', ['active', 'inactive'] as const);
  const text = reader.optionalString('text', MAX_TEXT_BYTES);
  if (text !== undefined) message.text = text;
  const previous = reader.optionalString('previous', MAX_SESSION_ID_BYTES);
  if (previous !== undefined) message.previous = previous;
  return message;
}

function decodeReply(reader: JsonReader): ReplyMessage {
  const re = reader.integer('re', 1, MAX_MESSAGE_ID);
  if (reader.boolean('ok')) return { kind: 'reply', re, ok: true, result: reader.optionalObject('result') ?? {} };
  return { kind: 'reply', re, ok: false, error: readReplyError(reader) };
}

/**
 * Decodes a complete message payload. Throws a ChannelError (`malformed-message`, or the more
 * precise `invalid-ack` / `unsupported-version`) when the payload breaks §4.
 */
export function decodeMessage(type: number, payload: Buffer): ChannelMessage {
  switch (type) {
    case MessageType.STANZA: {
      const { context, xml } = decodeStanza(payload);
      return { kind: 'stanza', context, xml };
    }
    case MessageType.ACK:
      return { kind: 'ack', record: decodeAck(payload) };
    case MessageType.PING:
    case MessageType.PONG:
      if (payload.length !== 8) throw malformed(messageTypeName(type), 'payload must be 8 bytes');
      return { kind: type === MessageType.PING ? 'ping' : 'pong', nonce: payload };
    case MessageType.DELIVERY:
      return decodeDelivery(payload);
  }
  const what = messageTypeName(type);
  const reader = new JsonReader(parseJsonObject(payload, what), what);
  switch (type) {
    case MessageType.HELLO:
      return { kind: 'hello', ...readHelloFields(reader) };
    case MessageType.RESUME:
      return {
        kind: 'resume',
        ...readHelloFields(reader),
        channel: reader.string('channel', MAX_CHANNEL_ID_BYTES),
        received: readRecord(reader, 'received'),
        sent: reader.integer('sent', 0, MAX_MESSAGE_ID),
      };
    case MessageType.WELCOME:
      return decodeWelcome(reader);
    case MessageType.ERROR: {
      const message: ErrorMessage = { kind: 'error', code: reader.string('code', MAX_ERROR_CODE_BYTES) };
      const text = reader.optionalString('text', MAX_TEXT_BYTES);
      if (text !== undefined) message.text = text;
      const id = reader.optionalInteger('id', 0, MAX_MESSAGE_ID);
      if (id !== undefined) message.id = id;
      return message;
    }
    case MessageType.CLOSE: {
      const message: CloseMessage = { kind: 'close', reason: reader.string('reason', MAX_REASON_BYTES) };
      const text = reader.optionalString('text', MAX_TEXT_BYTES);
      if (text !== undefined) message.text = text;
      return message;
    }
    case MessageType.SESSION_EVENT:
      return decodeSessionEvent(reader);
    case MessageType.REGISTER:
    case MessageType.UNREGISTER:
      return { kind: type === MessageType.REGISTER ? 'register' : 'unregister', domain: reader.string('domain', MAX_DOMAIN_BYTES), type: reader.string('type', 32) };
    case MessageType.REPLY:
      return decodeReply(reader);
    case MessageType.SEE_OTHER_HOST_QUERY: {
      const user = reader.optionalString('user', MAX_USER_BYTES);
      return { kind: 'see-other-host-query', domain: reader.string('domain', MAX_DOMAIN_BYTES), ...(user === undefined ? {} : { user }) };
    }
    case MessageType.USER_LOOKUP:
      return {
        kind: 'user-lookup',
        domain: reader.string('domain', MAX_DOMAIN_BYTES),
        user: reader.string('user', MAX_USER_BYTES),
        mechanisms: reader.stringArray('mechanisms', 32, 64),
      };
    case MessageType.ADMIN:
      return { kind: 'admin', command: reader.string('command', 64), args: reader.optionalObject('args') ?? {} };
  }
  throw protocolError('unknown-type', `frame type ${what} is not assigned`);
}

// ---------------------------------------------------------------------------------------------
// Typed results of requests (§13.4–§13.6), for the requesting side.

export interface SeeOtherHostResult {
  /** host[:port] to redirect to, or null to serve the client here. */
  host: string | null;
}

export function readSeeOtherHostResult(result: JsonObject): SeeOtherHostResult {
  const reader = new JsonReader(result, 'see-other-host result');
  return { host: result['host'] === undefined ? null : reader.nullableString('host', 1024) };
}

export interface ScramCredentials {
  salt: string;
  iterations: number;
  storedKey: string;
  serverKey: string;
}

export type UserLookupResult =
  | { outcome: 'found'; credentials: Record<string, ScramCredentials> }
  | { outcome: 'see-other-host'; host: string }
  | { outcome: 'unknown' };

export function readUserLookupResult(result: JsonObject): UserLookupResult {
  const reader = new JsonReader(result, 'user-lookup result');
  const outcome = reader.oneOf('outcome', ['found', 'see-other-host', 'unknown'] as const);
  if (outcome === 'unknown') return { outcome };
  if (outcome === 'see-other-host') return { outcome, host: reader.string('host', 1024) };
  const credentialsReader = reader.object_('credentials');
  const credentials: Record<string, ScramCredentials> = {};
  for (const mechanism of Object.keys(credentialsReader.object)) {
    const entry = credentialsReader.object_(mechanism);
    credentials[mechanism] = {
      salt: entry.string('salt', 1024),
      iterations: entry.integer('iterations', 1, 0xffff_ffff),
      storedKey: entry.string('storedKey', 1024),
      serverKey: entry.string('serverKey', 1024),
    };
  }
  return { outcome, credentials };
}

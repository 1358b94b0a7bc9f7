import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RECEIVE_LIMITS,
  FLAGS_SINGLE,
  MessageType,
  decodeMessage,
  encodeFrame,
  encodeMessage,
  readSeeOtherHostResult,
  readUserLookupResult,
  type ChannelMessage,
  type RoutingContext,
} from '../src/index.js';

function roundTrip(message: ChannelMessage): ChannelMessage {
  const encoded = encodeMessage(message);
  return decodeMessage(encoded.type, Buffer.concat(encoded.parts));
}

const limits = { ...DEFAULT_RECEIVE_LIMITS };
const context: RoutingContext = {
  direction: 'to-service',
  via: 'c2s',
  gateway: 'gw-1',
  session: 'c2s-7QxK',
  origin: 'juliet@example.org/balcony',
  key: 'gw-1:c2s-7QxK:1',
  deliveryReport: false,
  redelivered: true,
};

const examples: ChannelMessage[] = [
  { kind: 'hello', protocol: 1, instance: 'im-1', software: 'ambrosia-im/0.1.0', limits, registrations: [{ domain: 'example.org', type: 'client' }] },
  { kind: 'resume', protocol: 1, instance: 'im-1', limits, registrations: [], channel: 'pQ0x6mD2Zr4bI3v9Xc1a1w', received: { through: 41, ranges: [[43, 45]] }, sent: 8 },
  {
    kind: 'welcome',
    protocol: 1,
    channel: 'pQ0x6mD2Zr4bI3v9Xc1a1w',
    resumed: true,
    gateway: 'gw-1',
    limits,
    heartbeatMs: 2000,
    deadAfterMs: 8000,
    registrations: [
      { domain: 'example.org', type: 'client', ok: true },
      { domain: 'example.com', type: 'client', ok: false, error: { code: 'forbidden', text: 'not covered' } },
    ],
    received: { through: 8, ranges: [] },
    sent: 22,
  },
  { kind: 'welcome', protocol: 1, channel: 'abc', resumed: false, resumeError: 'unknown-channel', gateway: 'gw-1', limits, heartbeatMs: 100, deadAfterMs: 300, registrations: [] },
  { kind: 'ack', record: { through: 9, ranges: [[11, 13], [20, 20]] } },
  { kind: 'ping', nonce: Buffer.from('0102030405060708', 'hex') },
  { kind: 'pong', nonce: Buffer.from('0807060504030201', 'hex') },
  { kind: 'error', code: 'invalid-ack', text: 'ack names id 9001', id: 9001 },
  { kind: 'close', reason: 'shutdown', text: 'instance stopping' },
  { kind: 'stanza', context, xml: Buffer.from("<message to='romeo@example.org'><body>ü€😀</body></message>") },
  { kind: 'stanza', context: { ...context, direction: 'to-gateway', via: 'routed', session: '', origin: 'example.org', key: '', deliveryReport: true, redelivered: false }, xml: Buffer.from('<presence/>') },
  { kind: 'session-event', event: 'bound', gateway: 'gw-1', session: 's1', jid: 'juliet@example.org/balcony' },
  { kind: 'session-event', event: 'closed', gateway: 'gw-1', session: 's1', jid: 'juliet@example.org/balcony', reason: 'timeout', text: 'idle' },
  { kind: 'session-event', event: 'client-state', gateway: 'gw-1', session: 's1', jid: 'juliet@example.org/balcony', state: 'inactive' },
  { kind: 'session-event', event: 'resumed', gateway: 'gw-1', session: 's2', jid: 'juliet@example.org/balcony', previous: 's1' },
  { kind: 'delivery', outcome: 'delivered', ranges: [[3, 3], [5, 9]] },
  { kind: 'delivery', outcome: 'undelivered', ranges: [[1, 1]] },
  { kind: 'register', domain: 'example.org', type: 'server' },
  { kind: 'unregister', domain: 'example.org', type: 'client' },
  { kind: 'reply', re: 17, ok: true, result: { host: 'eu.example.net:5222' } },
  { kind: 'reply', re: 17, ok: false, error: { code: 'forbidden', text: 'admin role required' } },
  { kind: 'see-other-host-query', domain: 'example.org', user: 'juliet' },
  { kind: 'see-other-host-query', domain: 'example.org' },
  { kind: 'user-lookup', domain: 'example.org', user: 'juliet', mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-1'] },
  { kind: 'admin', command: 'kick', args: { jid: 'juliet@example.org/balcony', reason: 'abuse' } },
];

describe('message codecs (§4)', () => {
  it.each(examples.map((message) => [message.kind, message] as const))('%s round-trips', (_kind, message) => {
    expect(roundTrip(message)).toEqual(message);
  });

  it('keeps stanza XML as a view, never re-encoded', () => {
    const xml = Buffer.from('<iq type="get" id="1"/>');
    const encoded = encodeMessage({ kind: 'stanza', context, xml });
    expect(encoded.parts[1]).toBe(xml);
  });

  it('round-trips arbitrary routing contexts (property)', () => {
    const text = (minLength: number) => fc.string({ unit: 'grapheme', minLength, maxLength: 60 });
    fc.assert(
      fc.property(
        fc.record({ via: fc.constantFrom('c2s' as const, 's2s' as const, 'service' as const), gateway: text(1), session: text(1), origin: text(1), key: text(0), redelivered: fc.boolean() }),
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        (fields, xml) => {
          const message: ChannelMessage = { kind: 'stanza', context: { direction: 'to-service', deliveryReport: false, ...fields }, xml: Buffer.from(xml) };
          expect(roundTrip(message)).toEqual(message);
        },
      ),
    );
  });

  it('matches the byte-exact example of §16.8', () => {
    const ping = encodeMessage({ kind: 'ping', nonce: Buffer.from('0102030405060708', 'hex') });
    expect(encodeFrame(ping.type, FLAGS_SINGLE, 0, ping.parts).toString('hex')).toBe('01050300000000000000000000000008' + '0102030405060708');
    const stanza = encodeMessage({
      kind: 'stanza',
      context: { direction: 'to-service', via: 'c2s', gateway: 'gw', session: 's1', origin: 'a@b/c', key: 'k', deliveryReport: false, redelivered: false },
      xml: Buffer.from('<presence/>'),
    });
    expect(encodeFrame(stanza.type, FLAGS_SINGLE, 7, stanza.parts).toString('hex')).toBe(
      '01100300000000000000000700000021' + '01010000' + '00026777' + '00027331' + '000561406' + '22f63' + '00016b' + Buffer.from('<presence/>').toString('hex'),
    );
  });

  describe('rejects malformed payloads with malformed-message', () => {
    const json = (value: unknown) => Buffer.from(JSON.stringify(value));
    it.each([
      ['STANZA too short', MessageType.STANZA, Buffer.from('0101', 'hex')],
      ['STANZA unknown direction', MessageType.STANZA, Buffer.from('09010000000167000173000161000078', 'hex')],
      ['STANZA string past the end', MessageType.STANZA, Buffer.from('0101000000ff67', 'hex')],
      ['STANZA no XML', MessageType.STANZA, Buffer.from('010100000001670001730001610000', 'hex')],
      ['STANZA invalid UTF-8 origin', MessageType.STANZA, Buffer.from('01010000000167000173000280ff000078', 'hex')],
      ['STANZA to-service routed', MessageType.STANZA, Buffer.from('010000000001670000000161000078', 'hex')],
      ['JSON not an object', MessageType.REGISTER, json([1, 2])],
      ['JSON invalid', MessageType.REGISTER, Buffer.from('{"domain":')],
      ['JSON invalid UTF-8', MessageType.REGISTER, Buffer.from('7b2280ff223a317d', 'hex')],
      ['REGISTER missing type', MessageType.REGISTER, json({ domain: 'example.org' })],
      ['REPLY without re', MessageType.REPLY, json({ ok: true })],
      ['SESSION_EVENT unknown event', MessageType.SESSION_EVENT, json({ event: 'exploded', gateway: 'g', session: 's', jid: 'j' })],
      ['HELLO limits out of range', MessageType.HELLO, json({ protocol: 1, instance: 'x', limits: { ...limits, maxFramePayload: 10 }, registrations: [] })],
      ['HELLO window below max message', MessageType.HELLO, json({ protocol: 1, instance: 'x', limits: { ...limits, windowBytes: 70_000 }, registrations: [] })],
      ['DELIVERY no ranges', MessageType.DELIVERY, Buffer.from('01000000', 'hex')],
      ['DELIVERY overlapping', MessageType.DELIVERY, Buffer.from('0100000200000000000000050000000000000006' + '00000000000000060000000000000007', 'hex')],
      ['PING wrong size', MessageType.PING, Buffer.from('01', 'hex')],
    ])('%s', (_name, type, payload) => {
      expect(() => decodeMessage(type, payload)).toThrowError(expect.objectContaining({ code: 'malformed-message' }));
    });

    it('an unsupported protocol version is unsupported-version', () => {
      expect(() => decodeMessage(MessageType.HELLO, json({ protocol: 2, instance: 'x', limits, registrations: [] }))).toThrowError(expect.objectContaining({ code: 'unsupported-version' }));
    });

    it.each([
      ['short', Buffer.alloc(4)],
      ['length mismatch', Buffer.from('000000000000000000010000', 'hex')],
      ['overlapping the watermark', Buffer.from('00000000000000050001' + '00000000000000060000000000000006', 'hex')],
      ['descending', Buffer.from('00000000000000000002' + '000000000000000a000000000000000a' + '00000000000000030000000000000003', 'hex')],
    ])('an ACK %s is invalid-ack', (_name, payload) => {
      expect(() => decodeMessage(MessageType.ACK, payload)).toThrowError(expect.objectContaining({ code: 'invalid-ack' }));
    });
  });

  it('reads request results (§13.4, §13.5)', () => {
    expect(readSeeOtherHostResult({ host: null })).toEqual({ host: null });
    expect(readSeeOtherHostResult({ host: 'eu.example.net:5222' })).toEqual({ host: 'eu.example.net:5222' });
    expect(readUserLookupResult({ outcome: 'unknown' })).toEqual({ outcome: 'unknown' });
    expect(
      readUserLookupResult({ outcome: 'found', credentials: { 'SCRAM-SHA-256': { salt: 'c2FsdA==', iterations: 4096, storedKey: 'a2V5', serverKey: 'c2s=' } } }),
    ).toEqual({ outcome: 'found', credentials: { 'SCRAM-SHA-256': { salt: 'c2FsdA==', iterations: 4096, storedKey: 'a2V5', serverKey: 'c2s=' } } });
    expect(() => readUserLookupResult({ outcome: 'found', credentials: { x: { salt: 1 } } })).toThrowError(expect.objectContaining({ code: 'malformed-message' }));
  });
});

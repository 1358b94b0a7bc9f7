// Every kind of bad input ends in a clear protocol error and close (or backpressure), with no
// crash, bounded memory, and other channels unaffected (docs/service-protocol.md §14.2).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ChannelAcceptor,
  ChannelEndpoint,
  DEFAULT_RECEIVE_LIMITS,
  FLAG_FIRST,
  FLAG_LAST,
  FLAGS_SINGLE,
  FRAME_HEADER_SIZE,
  MessageType,
  PROTOCOL_VERSION,
  createDuplexPair,
  encodeFrame,
  encodeMessage,
  type ClosedInfo,
} from '../src/index.js';
import { RawPeer, SERVICE_PEER, collect, harness, once, rawServiceAgainstAcceptor, stanzaToGateway, stanzaToService, until } from './helpers.js';

function stanzaPayload(size = 100): Buffer {
  const encoded = encodeMessage({
    kind: 'stanza',
    context: { direction: 'to-gateway', via: 'routed', gateway: 'gw-1', session: '', origin: 'example.org', key: '', deliveryReport: false, redelivered: false },
    xml: Buffer.from(`<message>${'z'.repeat(size)}</message>`),
  });
  return Buffer.concat(encoded.parts);
}

/** Runs a raw service that does something bad; checks the gateway's ERROR, close and cleanup. */
async function expectRejected(code: string, misbehave: (raw: RawPeer) => void | Promise<void>, options: ConstructorParameters<typeof ChannelAcceptor>[0] | object = {}): Promise<void> {
  const { acceptor, raw, gateway } = await rawServiceAgainstAcceptor(options as object);
  const channel = gateway();
  const closed = once<ClosedInfo>(channel, 'closed');
  await misbehave(raw);
  expect(await raw.waitForError()).toBe(code);
  const info = await closed;
  expect(info).toMatchObject({ code, byPeer: false });
  await until(() => raw.ended, 'the link to end');
  expect(acceptor.channels.size).toBe(0);
}

describe('bad input from a service ends its channel with a protocol error', () => {
  it('malformed frame (reserved bits)', async () => {
    await expectRejected('malformed-frame', (raw) => {
      const frame = encodeFrame(MessageType.STANZA, FLAGS_SINGLE, 1, stanzaPayload());
      frame[3] = 0xff;
      raw.write(frame);
    });
  });

  it('oversized frame, rejected from its header', async () => {
    await expectRejected('frame-too-large', (raw) => {
      const header = Buffer.alloc(FRAME_HEADER_SIZE);
      encodeFrame(MessageType.STANZA, FLAGS_SINGLE, 1, Buffer.alloc(0)).copy(header);
      header.writeUInt32BE(DEFAULT_RECEIVE_LIMITS.maxFramePayload + 1, 12);
      raw.write(header);
    });
  });

  it('unknown type', async () => {
    await expectRejected('unknown-type', (raw) => raw.write(encodeFrame(0x3e, FLAGS_SINGLE, 1, Buffer.from('x'))));
  });

  it('a message in the wrong direction', async () => {
    await expectRejected('unexpected-message', (raw) => raw.send({ kind: 'session-event', event: 'bound', gateway: 'g', session: 's', jid: 'a@b/c' }, 1));
  });

  it('a second HELLO', async () => {
    await expectRejected('unexpected-message', (raw) => raw.hello());
  });

  it('a malformed payload', async () => {
    await expectRejected('malformed-message', (raw) => raw.write(encodeFrame(MessageType.REGISTER, FLAGS_SINGLE, 1, Buffer.from('{"domain":'))));
  });

  it('a stanza whose routing context claims the wrong direction', async () => {
    await expectRejected('malformed-message', (raw) =>
      raw.send({ kind: 'stanza', context: { direction: 'to-service', via: 'c2s', gateway: 'g', session: 's', origin: 'a@b/c', key: '', deliveryReport: false, redelivered: false }, xml: Buffer.from('<x/>') }, 1),
    );
  });

  it('an ack for a future id', async () => {
    await expectRejected('invalid-ack', (raw) => raw.send({ kind: 'ack', record: { through: 0, ranges: [[5, 5]] } }));
  });

  it('an ack for a message not completely sent', async () => {
    let channel: ChannelEndpoint | undefined;
    await expectRejected(
      'invalid-ack',
      async (raw) => {
        // The peer reads the first chunk, then stops reading: the rest cannot have been written.
        raw.pauseOnType = MessageType.STANZA;
        void channel!.send(stanzaToService(1, 1_000_000));
        await until(() => raw.frames.some((frame) => frame.type === MessageType.STANZA), 'the first chunk');
        raw.send({ kind: 'ack', record: { through: 1, ranges: [] } });
        raw.pauseOnType = undefined;
        raw.transport.resume();
      },
      { onChannel: (c: ChannelEndpoint) => (channel = c) },
    );
  });

  it('a chunk for a finished message', async () => {
    await expectRejected('unexpected-chunk', (raw) => {
      raw.write(encodeFrame(MessageType.STANZA, FLAGS_SINGLE, 1, stanzaPayload()));
      raw.write(encodeFrame(MessageType.STANZA, FLAG_LAST, 1, Buffer.from('more')));
    });
  });

  it('a chunk of another type than its message', async () => {
    await expectRejected('unexpected-chunk', (raw) => {
      raw.write(encodeFrame(MessageType.STANZA, FLAG_FIRST, 1, stanzaPayload().subarray(0, 40)));
      raw.write(encodeFrame(MessageType.REGISTER, FLAG_LAST, 1, Buffer.from('}')));
    });
  });

  it('a first chunk that skips ids', async () => {
    await expectRejected('unexpected-id', (raw) => raw.write(encodeFrame(MessageType.STANZA, FLAGS_SINGLE, 3, stanzaPayload())));
  });

  it('a reassembly larger than maxMessageBytes', async () => {
    await expectRejected(
      'message-too-large',
      (raw) => {
        raw.write(encodeFrame(MessageType.STANZA, FLAG_FIRST, 1, Buffer.alloc(60_000)));
        raw.write(encodeFrame(MessageType.STANZA, 0, 1, Buffer.alloc(60_000)));
      },
      { receiveLimits: { maxMessageBytes: 100_000, windowBytes: 1_000_000 } },
    );
  });

  it('too many partial messages', async () => {
    await expectRejected(
      'too-many-partials',
      (raw) => {
        for (let id = 1; id <= 5; id++) raw.write(encodeFrame(MessageType.STANZA, FLAG_FIRST, id, Buffer.alloc(100)));
      },
      { receiveLimits: { maxPartialMessages: 4 } },
    );
  });

  it('a reassembly that never completes', async () => {
    await expectRejected('reassembly-timeout', (raw) => raw.write(encodeFrame(MessageType.STANZA, FLAG_FIRST, 1, Buffer.alloc(100))), {
      heartbeat: { heartbeatMs: 100, deadAfterMs: 60_000 },
      limits: { reassemblyTimeoutMs: 250 },
    });
  });

  it('more unacknowledged bytes than the window', async () => {
    await expectRejected(
      'flow-control',
      (raw) => {
        // Partial messages count against the window until acked (§11.2).
        for (let id = 1; id <= 6; id++) raw.write(encodeFrame(MessageType.STANZA, FLAG_FIRST, id, Buffer.alloc(20_000)));
      },
      { receiveLimits: { windowBytes: 100_000, maxMessageBytes: 100_000 } },
    );
  });

  it('more unacknowledged messages than maxUnackedMessages', async () => {
    await expectRejected(
      'flow-control',
      (raw) => {
        for (let id = 1; id <= 17; id++) raw.write(encodeFrame(MessageType.STANZA, FLAGS_SINGLE, id, stanzaPayload()));
      },
      { ackMode: 'manual', receiveLimits: { maxUnackedMessages: 16 } },
    );
  });

  it('a receiver that never acks is cut off (§8.3)', async () => {
    let channel: ChannelEndpoint | undefined;
    await expectRejected(
      'ack-timeout',
      (raw) => {
        void raw;
        void channel!.send(stanzaToService(1));
      },
      { onChannel: (c: ChannelEndpoint) => (channel = c), heartbeat: { heartbeatMs: 100, deadAfterMs: 60_000 }, limits: { ackTimeoutMs: 300 } },
    );
  });

  it('a delivery report must follow the ack (service side, §9)', async () => {
    // A raw gateway against a real service endpoint.
    const service = new ChannelEndpoint({ role: 'service' });
    const [a, b] = createDuplexPair();
    const raw = new RawPeer(b);
    const ready = service.attach(a);
    await until(() => raw.frames.length > 0, 'HELLO');
    raw.send({ kind: 'welcome', protocol: PROTOCOL_VERSION, channel: 'c1', resumed: false, gateway: 'gw-x', limits: { ...DEFAULT_RECEIVE_LIMITS }, heartbeatMs: 2000, deadAfterMs: 8000, registrations: [] });
    await ready;
    const closed = once<ClosedInfo>(service, 'closed');
    const sent = service.send(stanzaToGateway(1), { onDelivery: () => {} });
    await until(() => raw.frames.some((frame) => frame.type === MessageType.STANZA), 'the stanza');
    raw.send({ kind: 'delivery', outcome: 'delivered', ranges: [[1, 1]] }, 1);
    expect(await raw.waitForError()).toBe('invalid-delivery');
    expect((await closed).code).toBe('invalid-delivery');
    await expect(sent).rejects.toMatchObject({ code: 'channel-closed' });
  });

  it('a WELCOME from the wrong gateway is refused', async () => {
    const service = new ChannelEndpoint({ role: 'service', expectedGateway: 'gw-1' });
    const [a, b] = createDuplexPair();
    const raw = new RawPeer(b);
    const ready = service.attach(a);
    await until(() => raw.frames.length > 0, 'HELLO');
    raw.send({ kind: 'welcome', protocol: PROTOCOL_VERSION, channel: 'c1', resumed: false, gateway: 'gw-2', limits: { ...DEFAULT_RECEIVE_LIMITS }, heartbeatMs: 2000, deadAfterMs: 8000, registrations: [] });
    await expect(ready).rejects.toMatchObject({ code: 'unexpected-message' });
    expect(service.state).toBe('closed');
  });
});

describe('bad input before the handshake', () => {
  async function pending(options: object = {}): Promise<{ acceptor: ChannelAcceptor; raw: RawPeer }> {
    const acceptor = new ChannelAcceptor({ gateway: 'gw-1', ...options });
    const [a, b] = createDuplexPair();
    acceptor.handle(b, SERVICE_PEER);
    return { acceptor, raw: new RawPeer(a) };
  }

  it('a first frame other than HELLO or RESUME', async () => {
    const { acceptor, raw } = await pending();
    raw.write(encodeFrame(MessageType.STANZA, FLAGS_SINGLE, 1, stanzaPayload()));
    expect(await raw.waitForError()).toBe('unexpected-message');
    await until(() => raw.ended);
    expect(acceptor.pendingLinks).toBe(0);
    expect(acceptor.channels.size).toBe(0);
  });

  it('silence: handshake timeout', async () => {
    const { acceptor, raw } = await pending({ limits: { handshakeTimeoutMs: 100 } });
    expect(await raw.waitForError()).toBe('handshake-timeout');
    expect(acceptor.pendingLinks).toBe(0);
  });

  it('a HELLO with an unsupported protocol version', async () => {
    const { raw } = await pending();
    raw.write(encodeFrame(MessageType.HELLO, FLAGS_SINGLE, 0, Buffer.from(JSON.stringify({ protocol: 9, instance: 'x', limits: DEFAULT_RECEIVE_LIMITS, registrations: [] }))));
    expect(await raw.waitForError()).toBe('unsupported-version');
  });

  it('a HELLO larger than the handshake limit', async () => {
    const { raw } = await pending();
    raw.write(encodeFrame(MessageType.HELLO, FLAGS_SINGLE, 0, Buffer.alloc(70_000, 0x20)));
    expect(await raw.waitForError()).toBe('frame-too-large');
  });

  it('a full gateway refuses new channels with resource-constraint', async () => {
    const { acceptor, raw } = await pending({ maxChannels: 1 });
    raw.hello();
    await raw.waitForWelcome();
    const [a, b] = createDuplexPair();
    acceptor.handle(b, SERVICE_PEER);
    const second = new RawPeer(a);
    second.hello();
    expect(await second.waitForError()).toBe('resource-constraint');
    expect(acceptor.channels.size).toBe(1);
  });

  it('random bytes never crash the gateway and never leave state behind (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { minLength: 1, maxLength: 6 }), async (chunks) => {
        const { acceptor, raw } = await pending({ limits: { handshakeTimeoutMs: 50 } });
        for (const chunk of chunks) raw.write(Buffer.from(chunk));
        await until(() => raw.ended || raw.lastError() !== undefined, 'a verdict');
        await until(() => acceptor.pendingLinks === 0, 'the pending link to go');
        expect(acceptor.channels.size).toBe(0);
      }),
      { numRuns: 25 },
    );
  });
});

describe('isolation', () => {
  it('a channel killed for a protocol error leaves the other channels working', async () => {
    const good = await harness();
    const goodChannel = good.gateway();
    const atService = collect(good.service);
    const [a, b] = createDuplexPair();
    const raw = new RawPeer(a);
    good.acceptor.handle(b, SERVICE_PEER);
    raw.hello();
    await raw.waitForWelcome();
    expect(good.acceptor.channels.size).toBe(2);
    raw.send({ kind: 'ack', record: { through: 99, ranges: [] } });
    expect(await raw.waitForError()).toBe('invalid-ack');
    await until(() => good.acceptor.channels.size === 1);
    await Promise.all(Array.from({ length: 100 }, (_, n) => goodChannel.send(stanzaToService(n))));
    expect(atService).toHaveLength(100);
    expect(good.service.state).toBe('open');
  });
});

// Shared test plumbing: channels over in-memory transports, and a raw peer that speaks frames
// by hand for the bad-input cases. No mocks: every test runs the real endpoint and acceptor.
import type { Duplex } from 'node:stream';
import {
  ChannelAcceptor,
  ChannelEndpoint,
  DEFAULT_RECEIVE_LIMITS,
  FLAGS_SINGLE,
  FrameDecoder,
  MessageType,
  PROTOCOL_VERSION,
  createDuplexPair,
  decodeMessage,
  encodeFrame,
  encodeMessage,
  type AcceptorOptions,
  type ChannelMessage,
  type ChannelPeer,
  type EndpointOptions,
  type InboundMessage,
  type StanzaInput,
} from '../src/index.js';

export const SERVICE_PEER: ChannelPeer = {
  role: 'service',
  permissions: [
    { domain: 'example.org', type: 'client' },
    { domain: 'example.org', type: 'server' },
  ],
  commonName: 'im-service',
};
export const ADMIN_PEER: ChannelPeer = { role: 'admin', permissions: [], commonName: 'admin' };

export interface Harness {
  acceptor: ChannelAcceptor;
  service: ChannelEndpoint;
  /** The gateway-side endpoint of the service's channel (set once HELLO is processed). */
  gateway: () => ChannelEndpoint;
  /** Opens a new in-memory link and attaches the service to it (HELLO or RESUME). */
  connect: (options?: { highWaterMark?: number }) => Promise<{ serviceSide: Duplex; gatewaySide: Duplex }>;
  /** The transports of the latest link. */
  current: () => { serviceSide: Duplex; gatewaySide: Duplex };
}

export async function harness(
  options: { acceptor?: Partial<AcceptorOptions>; service?: Partial<EndpointOptions>; peer?: ChannelPeer } = {},
): Promise<Harness> {
  const gateways: ChannelEndpoint[] = [];
  const acceptor = new ChannelAcceptor({
    gateway: 'gw-1',
    ...options.acceptor,
    onChannel: (channel) => {
      gateways.push(channel);
      options.acceptor?.onChannel?.(channel);
    },
  });
  const service = new ChannelEndpoint({ role: 'service', instance: 'im-test', registrations: [{ domain: 'example.org', type: 'client' }], ...options.service });
  let current: { serviceSide: Duplex; gatewaySide: Duplex } | undefined;
  const connect = async (linkOptions: { highWaterMark?: number } = {}) => {
    const [serviceSide, gatewaySide] = createDuplexPair(linkOptions);
    current = { serviceSide, gatewaySide };
    acceptor.handle(gatewaySide, options.peer ?? SERVICE_PEER);
    await service.attach(serviceSide);
    return { serviceSide, gatewaySide };
  };
  await connect();
  return {
    acceptor,
    service,
    gateway: () => {
      const last = gateways[gateways.length - 1];
      if (last === undefined) throw new Error('no gateway channel yet');
      return last;
    },
    connect,
    current: () => current!,
  };
}

/**
 * Two in-memory links joined by a relay that can be cut silently: a network partition, where
 * neither side sees the transport close and only heartbeats can tell (§12).
 */
export function createRelay(): { serviceSide: Duplex; gatewaySide: Duplex; cut: () => void } {
  const [serviceSide, relayToService] = createDuplexPair();
  const [relayToGateway, gatewaySide] = createDuplexPair();
  let cut = false;
  relayToService.on('data', (chunk: Buffer) => void (cut || relayToGateway.write(chunk)));
  relayToGateway.on('data', (chunk: Buffer) => void (cut || relayToService.write(chunk)));
  relayToService.on('close', () => void (cut || relayToGateway.destroy()));
  relayToGateway.on('close', () => void (cut || relayToService.destroy()));
  relayToService.on('error', () => {});
  relayToGateway.on('error', () => {});
  return { serviceSide, gatewaySide, cut: () => (cut = true) };
}

export function stanzaToGateway(n: number, size = 200, session = `s${n % 10}`): StanzaInput {
  const body = `<message to='juliet@example.org/balcony' id='m${n}'><body>${'x'.repeat(Math.max(0, size - 80))}</body></message>`;
  return { kind: 'stanza', context: { via: 'c2s', gateway: 'gw-1', session, origin: 'example.org', key: `k${n}` }, xml: body };
}

export function stanzaToService(n: number, size = 200, session = `s${n % 10}`): StanzaInput {
  const body = `<message to='romeo@example.org' id='m${n}'><body>${'y'.repeat(Math.max(0, size - 70))}</body></message>`;
  return { kind: 'stanza', context: { via: 'c2s', gateway: 'gw-1', session, origin: 'juliet@example.org/balcony', key: `gw-1:${session}:${n}` }, xml: body };
}

/** Stanza ids from the `id='…'` attribute, for order assertions. */
export function stanzaId(message: InboundMessage): string {
  if (message.message.kind !== 'stanza') throw new Error(`not a stanza: ${message.message.kind}`);
  const match = /id='([^']*)'/.exec(message.message.xml.toString('utf8'));
  return match?.[1] ?? '';
}

export function collect(endpoint: ChannelEndpoint): InboundMessage[] {
  const messages: InboundMessage[] = [];
  endpoint.on('message', (message) => messages.push(message));
  return messages;
}

export function once<T>(emitter: { once(event: string, listener: (value: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, resolve));
}

/** Polls until `predicate` holds; the test's own timeout bounds it. Never asserts durations. */
export async function until(predicate: () => boolean, what = 'condition'): Promise<void> {
  for (let attempt = 0; !predicate(); attempt++) {
    if (attempt > 200_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, attempt < 100 ? 1 : 10));
  }
}

/** A peer that speaks raw frames: for feeding an endpoint or acceptor exactly what a test wants. */
export class RawPeer {
  readonly frames: { type: number; flags: number; id: number; payload: Buffer }[] = [];
  ended = false;
  decodeError: Error | undefined;
  /** Stop reading (as a frozen peer would) once a frame of this type arrives. */
  pauseOnType: number | undefined;

  constructor(readonly transport: Duplex) {
    const decoder = new FrameDecoder(
      {
        frame: (type, flags, id, payload) => {
          this.frames.push({ type, flags, id, payload: Buffer.from(payload) });
          if (type === this.pauseOnType) transport.pause();
        },
        error: (error) => {
          this.decodeError = error;
        },
      },
      16 * 1024 * 1024,
    );
    transport.on('data', (chunk: Buffer) => decoder.push(chunk));
    transport.on('end', () => (this.ended = true));
    transport.on('close', () => (this.ended = true));
    transport.on('error', () => (this.ended = true));
  }

  send(message: ChannelMessage, id = 0, flags = FLAGS_SINGLE): void {
    const encoded = encodeMessage(message);
    this.transport.write(encodeFrame(encoded.type, flags, id, encoded.parts));
  }

  write(bytes: Buffer): void {
    this.transport.write(bytes);
  }

  hello(registrations = [{ domain: 'example.org', type: 'client' }], limits = DEFAULT_RECEIVE_LIMITS): void {
    this.send({ kind: 'hello', protocol: PROTOCOL_VERSION, instance: 'raw', limits: { ...limits }, registrations });
  }

  /** Decoded messages received so far, of one kind. */
  messages<K extends ChannelMessage['kind']>(kind: K): Extract<ChannelMessage, { kind: K }>[] {
    return this.frames
      .filter((frame) => frame.flags === FLAGS_SINGLE)
      .map((frame) => decodeMessage(frame.type, frame.payload))
      .filter((message): message is Extract<ChannelMessage, { kind: K }> => message.kind === kind);
  }

  lastError(): { code: string; text?: string } | undefined {
    return this.messages('error').at(-1);
  }

  async waitForError(): Promise<string> {
    await until(() => this.lastError() !== undefined, 'an ERROR frame');
    return this.lastError()!.code;
  }

  async waitForWelcome(): Promise<void> {
    await until(() => this.frames.some((frame) => frame.type === MessageType.WELCOME), 'WELCOME');
  }
}

/** A raw peer acting as a service against an acceptor, past the handshake. */
export async function rawServiceAgainstAcceptor(options: Partial<AcceptorOptions> = {}): Promise<{ acceptor: ChannelAcceptor; raw: RawPeer; gateway: () => ChannelEndpoint }> {
  let channel: ChannelEndpoint | undefined;
  const acceptor = new ChannelAcceptor({
    gateway: 'gw-1',
    ...options,
    onChannel: (c) => {
      channel = c;
      options.onChannel?.(c);
    },
  });
  const [serviceSide, gatewaySide] = createDuplexPair();
  const raw = new RawPeer(serviceSide);
  acceptor.handle(gatewaySide, SERVICE_PEER);
  raw.hello();
  await raw.waitForWelcome();
  return {
    acceptor,
    raw,
    gateway: () => {
      if (channel === undefined) throw new Error('no channel');
      return channel;
    },
  };
}

// Test plumbing: a throwaway cluster CA (packages/pki), and gateway-role endpoints made with
// service-protocol's ChannelAcceptor behind a real tls.createServer on 127.0.0.1: the real
// gateway-side protocol implementation, without the rest of a gateway. No mocks.
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { afterEach, beforeAll } from 'vitest';
import { authorisedChannelPeer, createCA, issueCertificate, tlsOptionsForChannelServer, type CertificateAndKey } from '@ambrosia/pki';
import { ChannelAcceptor, type AcceptorOptions, type ChannelEndpoint, type InboundMessage, type StanzaMessage } from '@ambrosia/service-protocol';
import { DomainService, type DomainServiceSettings } from '../src/index.js';

export interface Pki {
  ca: string;
  gateway: CertificateAndKey;
  service: CertificateAndKey;
  /** A service certificate that covers nothing this suite registers. */
  stranger: CertificateAndKey;
}

let pkiPromise: Promise<Pki> | undefined;

/** One CA per test file (ECDSA keys: milliseconds). */
export function testPki(): Promise<Pki> {
  pkiPromise ??= (async () => {
    const ca = await createCA({ commonName: 'sdk-test-ca', validityDays: 2 });
    const gateway = await issueCertificate(ca, { role: 'gateway', commonName: 'gw', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 1 });
    const service = await issueCertificate(ca, {
      role: 'service',
      commonName: 'im',
      permissions: [
        { domain: 'example.org', type: 'client' },
        { domain: 'example.org', type: 'server' },
        { domain: 'example.net', type: 'client' },
      ],
      validityDays: 1,
    });
    const stranger = await issueCertificate(ca, { role: 'service', commonName: 'stranger', permissions: [{ domain: 'elsewhere.example', type: 'client' }], validityDays: 1 });
    return { ca: ca.certPem, gateway, service, stranger };
  })();
  return pkiPromise;
}

/**
 * A gateway-role peer: a TLS 1.3 listener with mutual authentication feeding a ChannelAcceptor.
 * `restart()` replaces the acceptor (all channel state lost, as in a new process) on the same port.
 */
export class TestGateway {
  acceptor!: ChannelAcceptor;
  readonly channels: ChannelEndpoint[] = [];
  /** Stanzas services sent to this gateway, in arrival order, with their inbound handles. */
  readonly received: InboundMessage<StanzaMessage>[] = [];
  /** Closed channels' reasons, for assertions about graceful stop. */
  readonly closedReasons: string[] = [];
  readonly unregistered: string[] = [];
  port = 0;
  private readonly sockets = new Set<tls.TLSSocket>();
  private server: tls.Server | undefined;

  constructor(
    readonly id: string,
    private readonly pki: Pki,
    private readonly acceptorOptions: Partial<AcceptorOptions> = {},
    /** Manual: stanzas from services are acked by the test (`ackAll()`), not on receipt. */
    private readonly manualAck = false,
  ) {}

  async start(port = 0): Promise<this> {
    this.acceptor = this.newAcceptor();
    const server = tls.createServer(tlsOptionsForChannelServer({ caCertPem: this.pki.ca, certPem: this.pki.gateway.certPem, keyPem: this.pki.gateway.keyPem }), (socket) => {
      socket.setNoDelay(true);
      const peer = authorisedChannelPeer(socket);
      if (peer === undefined) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      this.acceptor.handle(socket, peer);
    });
    server.on('tlsClientError', () => {});
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  private newAcceptor(): ChannelAcceptor {
    return new ChannelAcceptor({
      gateway: this.id,
      ...this.acceptorOptions,
      ackMode: this.manualAck ? 'manual' : 'auto',
      onChannel: (channel) => {
        this.channels.push(channel);
        channel.on('message', (inbound) => {
          if (inbound.message.kind === 'stanza') this.received.push(inbound as InboundMessage<StanzaMessage>);
        });
        channel.on('unregistered', (registration) => this.unregistered.push(`${registration.domain}/${registration.type}`));
        channel.on('closed', (info) => this.closedReasons.push(info.code));
      },
    });
  }

  /** The newest channel that is open. */
  channel(): ChannelEndpoint {
    const open = this.channels.filter((channel) => channel.state === 'open');
    const last = open[open.length - 1];
    if (last === undefined) throw new Error(`gateway ${this.id} has no open channel`);
    return last;
  }

  hasOpenChannel(): boolean {
    return this.channels.some((channel) => channel.state === 'open');
  }

  ackAll(): void {
    for (const inbound of this.received) inbound.ack();
  }

  /** The transport dies under every channel (a network cut seen as a reset connection). */
  cutLinks(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** As if the gateway process died and a new one started on the same port: every channel is forgotten. */
  async restart(): Promise<void> {
    const old = this.acceptor;
    this.cutLinks();
    for (const channel of old.channels.values()) channel.destroy();
    this.acceptor = this.newAcceptor();
  }

  async close(): Promise<void> {
    await this.acceptor.close().catch(() => {});
    this.cutLinks();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A stanza as a gateway hands it to a service (§4.2, to-service, via c2s). */
export function clientStanza(gatewayId: string, session: string, n: number, options: { key?: string; redelivered?: boolean; size?: number; from?: string } = {}) {
  const padding = options.size === undefined ? '' : 'x'.repeat(Math.max(0, options.size - 90));
  return {
    kind: 'stanza' as const,
    context: {
      via: 'c2s' as const,
      gateway: gatewayId,
      session,
      origin: options.from ?? 'juliet@example.org/balcony',
      key: options.key ?? `${gatewayId}:${session}:${n}`,
      ...(options.redelivered ? { redelivered: true } : {}),
    },
    xml: `<message xmlns='jabber:client' from='${options.from ?? 'juliet@example.org/balcony'}' to='romeo@example.org' id='m${n}'><body>${n}${padding}</body></message>`,
  };
}

export function serviceOptions(pki: Pki, overrides: Partial<DomainServiceSettings> = {}): DomainServiceSettings {
  return {
    instance: 'im-test',
    registrations: [{ domain: 'example.org', type: 'client' }],
    tls: { cert: pki.service.certPem, key: pki.service.keyPem, ca: pki.ca },
    reconnectBackoff: { initialMs: 10, maxMs: 200 },
    startTimeoutMs: 10_000,
    ...overrides,
  };
}

export function staticGateway(gateway: TestGateway): { id: string; host: string; port: number } {
  return { id: gateway.id, host: '127.0.0.1', port: gateway.port };
}

/** Polls until `predicate` holds; bounded by attempts (and the test's timeout). Never asserts durations. */
export async function until(predicate: () => boolean, what = 'condition', maxAttempts = 4_000): Promise<void> {
  for (let attempt = 0; !predicate(); attempt++) {
    if (attempt >= maxAttempts) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, attempt < 50 ? 1 : 5));
  }
}

/** A promise with its resolver, for handlers a test releases by hand. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The text of a stanza's `id` attribute. */
export function idOf(xml: Buffer | string): string {
  return /id=['"]([^'"]*)['"]/.exec(xml.toString())?.[1] ?? '';
}

export async function startService(options: DomainServiceSettings, setup?: (service: DomainService) => void): Promise<DomainService> {
  const service = new DomainService(options);
  setup?.(service);
  await service.start();
  return service;
}

/** What a test file shares: the PKI, steps run after each test, and gateways/services stopped then. */
export interface TestBed {
  /** Set before the first test. */
  readonly pki: Pki;
  /** Run after each test, last pushed first. */
  readonly cleanup: (() => Promise<void>)[];
  /** A started TestGateway, closed after the test. */
  gateway(id?: string, manualAck?: boolean, acceptorOptions?: Partial<AcceptorOptions>): Promise<TestGateway>;
  /** A started service connected to `gw` only, stopped after the test. */
  service(gw: TestGateway, overrides?: Partial<DomainServiceSettings>, setup?: (service: DomainService) => void): Promise<DomainService>;
  /** A started service with these settings, stopped after the test. */
  startedService(options: DomainServiceSettings, setup?: (service: DomainService) => void): Promise<DomainService>;
}

/** Registers the file's hooks (call at the top level of a test file) and returns its test bed. */
export function useTestBed(): TestBed {
  let pki: Pki | undefined;
  const cleanup: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    pki = await testPki();
  });
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });
  const bed: TestBed = {
    get pki(): Pki {
      if (pki === undefined) throw new Error('the test PKI is made in beforeAll');
      return pki;
    },
    cleanup,
    async gateway(id = 'gw-1', manualAck = false, acceptorOptions = {}) {
      const gw = await new TestGateway(id, bed.pki, acceptorOptions, manualAck).start();
      cleanup.push(() => gw.close());
      return gw;
    },
    service(gw, overrides = {}, setup) {
      return bed.startedService(serviceOptions(bed.pki, { gateways: [staticGateway(gw)], ...overrides }), setup);
    },
    async startedService(options, setup) {
      const sdk = await startService(options, setup);
      cleanup.push(() => sdk.stop({ timeoutMs: 2_000 }));
      return sdk;
    },
  };
  return bed;
}

/**
 * A TCP relay in front of a gateway that can go silent: `freeze()` stops forwarding in both
 * directions without closing anything, as a network partition does (only heartbeats can tell).
 * New connections after a freeze are relayed again.
 */
export class FreezableRelay {
  port = 0;
  private server: import('node:net').Server | undefined;
  private frozen = new Set<import('node:net').Socket>();
  private readonly live = new Set<import('node:net').Socket>();

  constructor(private readonly targetPort: number) {}

  async start(): Promise<this> {
    const net = await import('node:net');
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, '127.0.0.1');
      const pair = [client, upstream];
      for (const socket of pair) {
        this.live.add(socket);
        socket.on('error', () => {});
        socket.once('close', () => {
          this.live.delete(socket);
          for (const other of pair) if (!this.frozen.has(other)) other.destroy();
        });
      }
      client.on('data', (chunk) => void (this.frozen.has(client) || upstream.write(chunk)));
      upstream.on('data', (chunk) => void (this.frozen.has(upstream) || client.write(chunk)));
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  freeze(): void {
    for (const socket of this.live) this.frozen.add(socket);
  }

  async close(): Promise<void> {
    for (const socket of [...this.live, ...this.frozen]) socket.destroy();
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

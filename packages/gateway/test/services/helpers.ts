// Shared plumbing of the service hub tests: a throwaway cluster CA (packages/pki), a hub on an
// ephemeral loopback port with a real memory registry, services made of service-protocol's own
// ChannelEndpoint over real TLS 1.3, and a recording session table.
import * as tls from 'node:tls';
import { type CertificateAuthority, createCA, issueCertificate, tlsOptionsForChannelClient } from '@ambrosia/pki';
import { type Registry, createMemoryRegistry } from '@ambrosia/registry';
import { ChannelEndpoint, type ClosedInfo, type InboundMessage, type Registration, type StanzaMessage } from '@ambrosia/service-protocol';
import { type Element, parseElement, xml } from '@ambrosia/xml';
import type { InboundStanza, LocalSessions, SessionDeliveryOutcome } from '../../src/contracts.js';
import { ServiceHub, type ServiceHubOptions } from '../../src/services/index.js';

export interface Credentials {
  cert: string;
  key: string;
  ca: string;
}

export interface Pki {
  ca: CertificateAuthority;
  gateway: Credentials;
  /** example.org client+server and example.net client. */
  service: Credentials;
  /** example.com client only. */
  other: Credentials;
  admin: Credentials;
  gatewayAsService: Credentials;
  /** Issued by another CA. */
  rogue: Credentials;
  expired: Credentials;
}

export async function makePki(): Promise<Pki> {
  const ca = await createCA({ commonName: 'test cluster CA' });
  const rogueCa = await createCA({ commonName: 'rogue CA' });
  const pack = (pair: { certPem: string; keyPem: string }, authority = ca): Credentials => ({ cert: pair.certPem, key: pair.keyPem, ca: authority.certPem });
  const servicePermissions = [
    { domain: 'example.org', type: 'client' as const },
    { domain: 'example.org', type: 'server' as const },
    { domain: 'example.net', type: 'client' as const },
  ];
  return {
    ca,
    gateway: pack(await issueCertificate(ca, { role: 'gateway', commonName: 'gw-1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })),
    service: pack(await issueCertificate(ca, { role: 'service', commonName: 'im', permissions: servicePermissions })),
    other: pack(await issueCertificate(ca, { role: 'service', commonName: 'other', permissions: [{ domain: 'example.com', type: 'client' }] })),
    admin: pack(await issueCertificate(ca, { role: 'admin', commonName: 'admin' })),
    gatewayAsService: pack(await issueCertificate(ca, { role: 'gateway', commonName: 'gw-2', dnsNames: ['localhost'] })),
    rogue: { ...pack(await issueCertificate(rogueCa, { role: 'service', commonName: 'rogue', permissions: servicePermissions }), rogueCa), ca: ca.certPem },
    expired: pack(await issueCertificate(ca, { role: 'service', commonName: 'old', permissions: servicePermissions, notBefore: new Date(Date.now() - 3 * 86_400_000), validityDays: 1 })),
  };
}

export interface HubFixture {
  hub: ServiceHub;
  registry: Registry;
  port: number;
  sessions: RecordingSessions;
  close: () => Promise<void>;
}

export async function startHub(pki: Pki, options: Partial<ServiceHubOptions> = {}, registry?: Registry): Promise<HubFixture> {
  const ownRegistry = registry === undefined;
  const reg = registry ?? createMemoryRegistry({ heartbeatIntervalMs: 0 });
  await reg.ready();
  const gatewayId = options.gatewayId ?? 'gw-1';
  await reg.gateways.announce({ id: gatewayId, addresses: ['127.0.0.1'], ports: {}, load: 0, state: 'active' });
  const sessions = new RecordingSessions();
  const hub = new ServiceHub({
    gatewayId,
    registry: reg,
    host: '127.0.0.1',
    port: 0,
    tls: pki.gateway,
    sessions,
    // Quick expiry of a channel whose service died; default heartbeats (a loaded CI machine must not miss one).
    channel: { resumeTimeoutMs: 300 },
    ...options,
  });
  const { port } = await hub.listen();
  return {
    hub,
    registry: reg,
    port,
    sessions,
    close: async () => {
      await hub.close();
      if (ownRegistry) await reg.close();
    },
  };
}

/** A TLS connection to the hub, verified as a real service would (gateway role, host name). */
export function dial(port: number, credentials: Credentials): Promise<tls.TLSSocket> {
  const options = tlsOptionsForChannelClient({ caCertPem: credentials.ca, certPem: credentials.cert, keyPem: credentials.key });
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ ...options, host: '127.0.0.1', port }, () => {
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export interface TestService {
  endpoint: ChannelEndpoint;
  socket: tls.TLSSocket;
  /** Stanzas received (to-service), in arrival order. */
  stanzas: InboundMessage<StanzaMessage>[];
  events: InboundMessage[];
  closed: Promise<ClosedInfo>;
}

export interface ServiceOptions {
  instance: string;
  registrations?: Registration[];
  credentials: Credentials;
  ackMode?: 'auto' | 'manual';
}

export async function connectService(port: number, options: ServiceOptions): Promise<TestService> {
  const endpoint = new ChannelEndpoint({ role: 'service', instance: options.instance, registrations: options.registrations ?? [{ domain: 'example.org', type: 'client' }], ackMode: options.ackMode ?? 'auto' });
  const stanzas: InboundMessage<StanzaMessage>[] = [];
  const events: InboundMessage[] = [];
  endpoint.on('message', (inbound) => {
    if (inbound.message.kind === 'stanza') stanzas.push(inbound as InboundMessage<StanzaMessage>);
    else events.push(inbound);
  });
  const closed = new Promise<ClosedInfo>((resolve) => endpoint.once('closed', resolve));
  const socket = await dial(port, options.credentials);
  await endpoint.attach(socket);
  return { endpoint, socket, stanzas, events, closed };
}

/** A stand-in for the client edge's session table: records what the hub hands it. */
export class RecordingSessions implements LocalSessions {
  readonly delivered: { session: string; stanza: Element; onOutcome: ((outcome: SessionDeliveryOutcome) => void) | undefined }[] = [];
  readonly byJid = new Map<string, string>();
  readonly open = new Set<string>();

  deliver(sessionId: string, stanza: Element, onOutcome?: (outcome: SessionDeliveryOutcome) => void): 'sent' | 'queued' | 'refused' {
    if (!this.open.has(sessionId)) return 'refused';
    this.delivered.push({ session: sessionId, stanza, onOutcome });
    return 'sent';
  }

  sessionFor(fullJid: string): string | undefined {
    return this.byJid.get(fullJid);
  }

  add(sessionId: string, fullJid: string): void {
    this.open.add(sessionId);
    this.byJid.set(fullJid, sessionId);
  }
}

let stanzaCounter = 0;

/** A client stanza as the c2s edge hands it to route(). */
export function clientStanza(user: string, options: { session?: string; body?: string; domain?: string } = {}): InboundStanza {
  const domain = options.domain ?? 'example.org';
  const id = `m${++stanzaCounter}`;
  const element = xml('message', { xmlns: 'jabber:client', from: `${user}@${domain}/res`, to: `friend@${domain}`, id }, xml('body', {}, options.body ?? `hello ${id}`));
  return { element, domain, type: 'client', via: 'c2s', session: options.session ?? `c2s-${user}`, origin: `${user}@${domain}/res`, routingKey: `${user}@${domain}` };
}

export function parsed(inbound: InboundMessage<StanzaMessage>): Element {
  return parseElement(inbound.message.xml, { limits: { maxStanzaBytes: 64 * 1024 * 1024, maxTextLength: 64 * 1024 * 1024 } });
}

/** Bounded wait for a condition. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Sends a to-gateway stanza from a test service. */
export function sendToGateway(
  service: TestService,
  stanza: string,
  context: { via: 'c2s' | 'routed' | 's2s' | 'service'; origin: string; session?: string; gateway?: string; key?: string },
  onDelivery?: (outcome: string) => void,
): Promise<void> {
  return service.endpoint.send(
    { kind: 'stanza', context: { via: context.via, gateway: context.gateway ?? 'gw-1', session: context.session ?? '', origin: context.origin, key: context.key ?? '' }, xml: stanza },
    { lane: context.session ?? 'lane', ...(onDelivery === undefined ? {} : { onDelivery }) },
  );
}

// Test support for the client edge: a real edge on 127.0.0.1 (real sockets, real TLS, real
// MemoryRegistry, users made with @ambrosia/auth), a small ServiceRouter standing in for the
// service hub, and a raw client that reads the server's bytes as text with bounded waits.

import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { addUser } from '@ambrosia/auth';
import { StanzaError } from '@ambrosia/errors';
import { tryParseJID } from '@ambrosia/jid';
import { createCA, type CertificateAuthority } from '@ambrosia/pki';
import { createMemoryRegistry, type Registry } from '@ambrosia/registry';
import type { ClientStreamOptions } from '@ambrosia/stream';
import { xml, type Element } from '@ambrosia/xml';
import { ClientEdge, DomainCertificates, type GatewayLogger, type InboundStanza, type ServiceRouter, type SessionEventInput } from '../../src/index.js';

export const DOMAIN = 'example.org';
export const PASSWORD = 'correct horse battery staple';
export const NS_STREAMS = 'http://etherx.jabber.org/streams';
export const STREAM_ERROR_NS = 'urn:ietf:params:xml:ns:xmpp-streams';

let caPromise: Promise<CertificateAuthority> | undefined;
/** One cluster CA per test file (ECDSA: cheap). */
export function testCA(): Promise<CertificateAuthority> {
  return (caPromise ??= createCA({ commonName: 'Ambrosia test CA' }));
}

/**
 * The service side in one object: serves the given domains (type client), records what reaches
 * it, and answers like a tiny IM service: a message to a JID with sessions here is delivered to
 * them; a message to the domain itself is echoed back to the sender.
 */
export class TestRouter implements ServiceRouter {
  readonly routed: InboundStanza[] = [];
  readonly events: Array<{ domain: string; routingKey: string; event: SessionEventInput }> = [];
  readonly redirects = new Map<string, string>();
  /** Set to make route() reject (e.g. service-unavailable). */
  failWith: StanzaError | undefined;
  edge: ClientEdge | undefined;

  constructor(readonly domains: Set<string> = new Set([DOMAIN])) {}

  serves(domain: string, type: string): boolean {
    return type === 'client' && this.domains.has(domain);
  }

  async route(stanza: InboundStanza): Promise<void> {
    if (this.failWith !== undefined) throw this.failWith;
    this.routed.push(stanza);
    const table = this.edge?.table;
    const to = stanza.element.attrs.to as string | undefined;
    if (table === undefined || stanza.element.name !== 'message' || to === undefined) return;
    const target = tryParseJID(to);
    if (target === undefined) return;
    if (target.local === '' && target.resource === '') {
      const echo = xml('message', { from: to, to: stanza.origin, type: stanza.element.attrs.type }, ...stanza.element.getChildElements());
      table.deliver(stanza.session, echo);
      return;
    }
    const ids = target.resource === '' ? table.forBareJid(target.toString()).map((e) => e.stream.sessionId) : [table.sessionFor(target.toString())];
    for (const id of ids) if (id !== undefined) table.deliver(id, stanza.element);
  }

  async sessionEvent(domain: string, routingKey: string, event: SessionEventInput): Promise<void> {
    this.events.push({ domain, routingKey, event });
  }

  async seeOtherHost(domain: string, jid?: string): Promise<string | undefined> {
    return this.redirects.get(jid ?? domain);
  }
}

export interface TestEdge {
  edge: ClientEdge;
  registry: Registry;
  router: TestRouter;
  ca: CertificateAuthority;
  port: number;
  tlsPort: number;
  gatewayId: string;
  logs: Array<{ level: string; event: string }>;
  close(): Promise<void>;
}

let edges = 0;

export async function startEdge(
  options: { stream?: ClientStreamOptions; maxSessions?: number; registry?: Registry; gatewayId?: string; router?: TestRouter; handshakeTimeoutMs?: number; lingerMs?: number } = {},
): Promise<TestEdge> {
  const ca = await testCA();
  const registry = options.registry ?? createMemoryRegistry({ heartbeatIntervalMs: 0 });
  const gatewayId = options.gatewayId ?? `gw-test-${++edges}`;
  await registry.gateways.announce({ id: gatewayId, addresses: ['127.0.0.1'], ports: {}, load: 0, state: 'active' });
  const router = options.router ?? new TestRouter();
  const certificates = new DomainCertificates({ ca, mayIssue: (d) => router.serves(d, 'client'), fallbackDomain: 'localhost' });
  await certificates.init();
  const logs: Array<{ level: string; event: string }> = [];
  const log: GatewayLogger = (level, event) => {
    if (logs.length < 10_000) logs.push({ level, event });
  };
  const edge = new ClientEdge({
    gatewayId,
    registry,
    router,
    certificates,
    host: '127.0.0.1',
    ports: { c2s: 0, c2sTls: 0 },
    auth: { decoySecret: Buffer.alloc(32, 7), minResponseMs: 1 },
    stream: options.stream,
    maxSessions: options.maxSessions,
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    lingerMs: options.lingerMs,
    log,
  });
  router.edge = edge;
  const ports = await edge.start();
  return {
    edge,
    registry,
    router,
    ca,
    port: ports.c2s,
    tlsPort: ports.c2sTls,
    gatewayId,
    logs,
    async close() {
      await edge.stopAccepting();
      edge.shutdownAll(() => undefined);
      await edge.waitForEmpty(2000);
      if (options.registry === undefined) await registry.close();
    },
  };
}

export async function addTestUser(registry: Registry, user: string, domain = DOMAIN): Promise<void> {
  await addUser(registry.credentials, domain, user, PASSWORD, { iterations: 4096 });
}

/** A client connection read as text; every wait is bounded. */
export class RawClient {
  socket: Socket | TLSSocket;
  private text = '';
  private waiters: Array<() => void> = [];
  private ended = false;
  readonly closed: Promise<void>;
  private markClosed: () => void = () => {};

  /** Protected: the protection tests' WireClient dials differently (source address, PROXY prefix). */
  protected constructor(socket: Socket | TLSSocket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('utf8');
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.markClosed();
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  static async connectTls(port: number, ca: string, servername = DOMAIN, alpn = ['xmpp-client']): Promise<RawClient> {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca: [ca], ALPNProtocols: alpn });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  get isClosed(): boolean {
    return this.ended;
  }

  send(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** Everything received and not yet consumed by `until`. */
  get pending(): string {
    return this.text;
  }

  /** Waits (at most timeoutMs) for pattern; consumes the text up to its end. */
  async until(pattern: RegExp, timeoutMs = 5000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.text);
      if (match) {
        this.text = this.text.slice(match.index + match[0].length);
        return match;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.ended) throw new Error(`timed out waiting for ${pattern} (have: ${this.text.slice(0, 2000)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the server to close the connection; resolves everything it sent meanwhile. */
  async untilClosed(timeoutMs = 5000): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error(`not closed; have: ${this.text.slice(0, 2000)}`)), timeoutMs)))]);
    clearTimeout(timer);
    const all = this.text;
    this.text = '';
    return all;
  }

  /** STARTTLS from the client's side: `<starttls/>`, `<proceed/>`, then a TLS handshake on the same socket. */
  async startTls(ca: string, servername = DOMAIN): Promise<void> {
    this.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await this.until(/<proceed xmlns="urn:ietf:params:xml:ns:xmpp-tls"\/>/);
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tlsConnect({ socket: plain, servername, ca: [ca] });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    this.socket = secure;
    this.attach(secure);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function header(to = DOMAIN, extra = ''): string {
  return `<?xml version='1.0'?><stream:stream to='${to}' version='1.0' xmlns='jabber:client' xmlns:stream='${NS_STREAMS}'${extra}>`;
}

/** The server's stream header as this stream package writes it (id captured). */
export const SERVER_HEADER = /<\?xml version='1\.0'\?><stream:stream xmlns="jabber:client" xmlns:stream="http:\/\/etherx\.jabber\.org\/streams" id="([^"]+)"(?: from="([^"]*)")? version="1\.0" xml:lang="en">/;

/**
 * The bytes of a stream error and the close tag, exactly: RFC 6120 §4.9.2 pins the element, the
 * condition and its namespace; the optional `<text/>` is ours (matched by shape).
 */
export function streamErrorPattern(condition: string, content = ''): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const body = content === '' ? `<${condition} xmlns="${STREAM_ERROR_NS}"/>` : `<${condition} xmlns="${STREAM_ERROR_NS}">${content}</${condition}>`;
  return new RegExp(`^${esc(`<stream:error xmlns:stream="${NS_STREAMS}">${body}`)}(?:<text xmlns="${esc(STREAM_ERROR_NS)}">[^<]*</text>)?${esc('</stream:error></stream:stream>')}$`);
}

/** Connect and STARTTLS, up to the features of the TLS stream (before SASL). */
export async function rawStartTls(edge: { port: number; ca: { certPem: string } }): Promise<RawClient> {
  const client = await RawClient.connect(edge.port);
  client.send(header());
  await client.until(/<\/stream:features>/);
  await client.startTls(edge.ca.certPem);
  client.send(header());
  await client.until(/<\/stream:features>/);
  return client;
}

/** Connect, STARTTLS, PLAIN up to `<success/>`: the stream restart header is the caller's to send. */
export async function rawAuthenticate(edge: { port: number; ca: { certPem: string } }, user: string): Promise<RawClient> {
  const client = await rawStartTls(edge);
  const plain = Buffer.from(`\0${user}\0${PASSWORD}`).toString('base64');
  client.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`);
  await client.until(/<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"\/>/);
  return client;
}

/**
 * Connect, STARTTLS, PLAIN, bind (optionally `<enable resume/>`): a bound raw client. Returns the
 * bound JID and, with `sm`, the SM-ID.
 */
export async function rawLogin(
  edge: { port: number; ca: { certPem: string } },
  user: string,
  options: { resource?: string; sm?: boolean; resume?: { previd: string; h: number } } = {},
): Promise<{ client: RawClient; jid: string; smId?: string; resumed?: string }> {
  const client = await rawAuthenticate(edge, user);
  client.send(header());
  await client.until(/<\/stream:features>/);
  if (options.resume !== undefined) {
    client.send(`<resume xmlns='urn:xmpp:sm:3' previd='${options.resume.previd}' h='${options.resume.h}'/>`);
    const match = await client.until(/<resumed xmlns="urn:xmpp:sm:3" previd="[^"]+" h="(\d+)"\/>|<failed xmlns="urn:xmpp:sm:3"[^>]*>.*?<\/failed>|<failed xmlns="urn:xmpp:sm:3"[^>]*\/>/);
    return { client, jid: '', resumed: match[0] };
  }
  const resource = options.resource === undefined ? '' : `<resource>${options.resource}</resource>`;
  client.send(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>${resource}</bind></iq>`);
  const bound = await client.until(/<jid>([^<]+)<\/jid><\/bind><\/iq>/);
  let smId: string | undefined;
  if (options.sm === true) {
    client.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    smId = (await client.until(/<enabled xmlns="urn:xmpp:sm:3" id="([^"]+)"/))[1];
  }
  return { client, jid: bound[1]!, smId };
}

/** Polls `check` until it is true, at most timeoutMs. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function messageTo(to: string, body: string, id = 'm1'): Element {
  return xml('message', { to, type: 'chat', id }, xml('body', {}, body));
}

// Test support for edge protection: a real client edge with limits and PROXY protocol options,
// and a raw client that can dial from any 127.x source address, put a PROXY header (or any bytes)
// first, speak direct TLS or STARTTLS, and read the server's bytes as text with bounded waits.

import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { createMemoryRegistry, type Registry } from '@ambrosia/registry';
import type { ClientStreamOptions } from '@ambrosia/stream';
import { ClientEdge, DomainCertificates, type GatewayLimitsOptions, type GatewayLogger, type LogFields, type ProxyProtocolConfig } from '../../src/index.js';
import { DOMAIN, PASSWORD, RawClient, TestRouter, addTestUser, eventually, header, testCA } from '../c2s/helpers.js';

export { DOMAIN, addTestUser, eventually, header };

export interface LogLine {
  level: string;
  event: string;
  fields: LogFields | undefined;
}

export interface ProtectedEdge {
  edge: ClientEdge;
  registry: Registry;
  router: TestRouter;
  caPem: string;
  port: number;
  tlsPort: number;
  logs: LogLine[];
  close(): Promise<void>;
}

let edges = 0;

export async function startProtectedEdge(
  options: {
    limits?: GatewayLimitsOptions;
    proxyProtocol?: ProxyProtocolConfig;
    stream?: ClientStreamOptions;
    registry?: Registry;
    handshakeTimeoutMs?: number;
    router?: TestRouter;
  } = {},
): Promise<ProtectedEdge> {
  const ca = await testCA();
  const registry = options.registry ?? createMemoryRegistry({ heartbeatIntervalMs: 0 });
  const gatewayId = `gw-protect-${++edges}`;
  await registry.gateways.announce({ id: gatewayId, addresses: ['127.0.0.1'], ports: {}, load: 0, state: 'active' });
  const router = options.router ?? new TestRouter();
  const certificates = new DomainCertificates({ ca, mayIssue: (d) => router.serves(d, 'client'), fallbackDomain: 'localhost' });
  await certificates.init();
  const logs: LogLine[] = [];
  const log: GatewayLogger = (level, event, fields) => {
    if (logs.length < 20_000) logs.push({ level, event, fields });
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
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    // The tests dial from 127.x: loopback is exempt by default, so limit it here unless told.
    limits: { exemptAddresses: [], ...options.limits },
    proxyProtocol: options.proxyProtocol,
    lingerMs: 1000,
    log,
  });
  router.edge = edge;
  const ports = await edge.start();
  return {
    edge,
    registry,
    router,
    caPem: ca.certPem,
    port: ports.c2s,
    tlsPort: ports.c2sTls,
    logs,
    async close() {
      await edge.stopAccepting();
      edge.shutdownAll(() => undefined);
      await edge.waitForEmpty(3000);
      if (options.registry === undefined) await registry.close();
    },
  };
}

/** Log lines of the `limit-tripped` event for one limit. */
export function trips(t: ProtectedEdge, limit: string): LogLine[] {
  return t.logs.filter((l) => l.event === 'limit-tripped' && l.fields?.limit === limit);
}

export interface DialOptions {
  /** Source address (127.0.0.x). */
  from?: string;
  /** Bytes written right after the TCP connect (a PROXY header). */
  prefix?: Buffer;
  /** Direct TLS after the prefix (port 5223 style). */
  tls?: { ca: string; servername?: string };
}

/**
 * A raw client that dials from a chosen source address and may write a prefix first; reading,
 * bounded waits and STARTTLS are RawClient's.
 */
export class WireClient extends RawClient {
  static async dial(port: number, options: DialOptions = {}): Promise<WireClient> {
    const raw = netConnect({ host: '127.0.0.1', port, localAddress: options.from ?? '127.0.0.1' });
    raw.on('error', () => {});
    await once(raw, 'connect');
    if (options.prefix !== undefined) raw.write(options.prefix);
    if (options.tls === undefined) return new WireClient(raw);
    const secure = tlsConnect({ socket: raw, servername: options.tls.servername ?? DOMAIN, ca: [options.tls.ca], ALPNProtocols: ['xmpp-client'] });
    secure.on('error', () => {});
    await once(secure, 'secureConnect');
    return new WireClient(secure);
  }

  /** A connection the server may refuse at once: resolves with the client whether or not it survives. */
  static async dialRaw(port: number, options: DialOptions = {}): Promise<WireClient> {
    const raw = netConnect({ host: '127.0.0.1', port, localAddress: options.from ?? '127.0.0.1' });
    raw.on('error', () => {});
    const client = new WireClient(raw);
    await Promise.race([once(raw, 'connect'), client.closed]);
    if (options.prefix !== undefined && !raw.destroyed) raw.write(options.prefix);
    return client;
  }
}

/** Stream header, STARTTLS unless already TLS, PLAIN, bind: a bound client. */
export async function login(t: ProtectedEdge, user: string, options: DialOptions & { direct?: boolean; password?: string } = {}): Promise<{ client: WireClient; jid: string }> {
  const direct = options.direct === true;
  const client = await WireClient.dial(direct ? t.tlsPort : t.port, { ...options, tls: direct ? { ca: t.caPem } : undefined });
  client.send(header());
  await client.until(/<\/stream:features>/);
  if (!direct) {
    await client.startTls(t.caPem);
    client.send(header());
    await client.until(/<\/stream:features>/);
  }
  const plain = Buffer.from(`\0${user}\0${options.password ?? PASSWORD}`).toString('base64');
  client.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`);
  await client.until(/<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"\/>/);
  client.send(header());
  await client.until(/<\/stream:features>/);
  client.send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
  const bound = await client.until(/<jid>([^<]+)<\/jid><\/bind><\/iq>/);
  return { client, jid: bound[1]! };
}

/** Stream header and STARTTLS, stopping before SASL: an unauthenticated client over TLS. */
export async function untilSasl(t: ProtectedEdge, options: DialOptions = {}): Promise<WireClient> {
  const client = await WireClient.dial(t.port, options);
  client.send(header());
  await client.until(/<\/stream:features>/);
  await client.startTls(t.caPem);
  client.send(header());
  await client.until(/<\/stream:features>/);
  return client;
}

let pings = 0;

/**
 * The healthy session's round trip: a message to the domain, echoed by the TestRouter. Returns
 * milliseconds (printed by the tests, never asserted: the machine is shared).
 */
export async function roundTrip(client: WireClient): Promise<number> {
  const id = `rt${++pings}`;
  const started = performance.now();
  client.send(`<message to='${DOMAIN}' id='${id}' type='chat'><body>${id}</body></message>`);
  await client.until(new RegExp(`<body>${id}</body></message>`), 10_000);
  return performance.now() - started;
}

/** Median of a few round trips. */
export async function medianRoundTrip(client: WireClient, samples = 5): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) times.push(await roundTrip(client));
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export const STREAM_ERROR = (condition: string): RegExp =>
  new RegExp(`<stream:error xmlns:stream="http://etherx.jabber.org/streams"><${condition} xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>(?:<text xmlns="urn:ietf:params:xml:ns:xmpp-streams">[^<]*</text>)?</stream:error></stream:stream>$`);

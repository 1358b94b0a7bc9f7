// The client listeners: 5222 (plain TCP, STARTTLS required by default, RFC 6120 §5) and 5223
// (TLS from the first byte, XEP-0368 with ALPN `xmpp-client`). Each accepted socket becomes a
// SocketTransport and a ClientStream; the session table counts it from accept to close.
// With the PROXY protocol on, the header is read first (on 5223 before the ClientHello: a plain
// TCP server reads it and hands the socket to a non-listening TLS server), and the address it
// carries is the one every per-IP limit (src/protection/) and the authenticator see.

import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { StreamError } from '@ambrosia/errors';
import { ClientStream, type ClientStreamHooks, type ClientStreamOptions } from '@ambrosia/stream';
import { ConnectionGuard } from '../protection/connection-guard.js';
import type { EdgeProtection } from '../protection/protection.js';
import { ProxyGate, type ClientAddress, type ProxyProtocolOptions } from '../protection/proxy.js';
import { CLIENT_TLS_SETTINGS, type DomainCertificates } from './certificates.js';
import { errorName, type GatewayLogger } from './log.js';
import type { SessionTable } from './session-table.js';
import { SocketTransport, tlsInfoOf, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_LINGER_MS } from './socket-transport.js';

/** XEP-0368 §3: the ALPN protocol of direct TLS client connections. */
export const XMPP_CLIENT_ALPN = 'xmpp-client';

export type ListenerKind = 'starttls' | 'direct-tls';

export interface C2sListenerOptions {
  kind: ListenerKind;
  host: string;
  /** 0: an ephemeral port. */
  port: number;
  certificates: DomainCertificates;
  table: SessionTable;
  hooks: ClientStreamHooks;
  /** The same object for every stream (the stream package resolves it once). */
  streamOptions?: ClientStreamOptions;
  /** TLS handshake deadline (STARTTLS and direct TLS); default 10 s. */
  handshakeTimeoutMs?: number;
  /** Bounded linger of a graceful close; default 5 s. */
  lingerMs?: number;
  /**
   * Sockets accepted at once, handshakes included (node's `maxConnections`: beyond it new
   * connections are dropped at accept). Default: the table's maxSessions plus 10 %, so that a
   * client over the session bound still gets its `resource-constraint`.
   */
  maxConnections?: number;
  /** The edge's limits (per-IP tables, counters); every connection gets a ConnectionGuard from it. */
  protection: EdgeProtection;
  /** PROXY protocol on this listener (absent: off). */
  proxyProtocol?: ProxyProtocolOptions;
  log: GatewayLogger;
}

/** A TLS handshake that passes this deadline shows as this code in `tlsClientError` (node). */
const HANDSHAKE_TIMEOUT_CODE = 'ERR_TLS_HANDSHAKE_TIMEOUT';

export class C2sListener {
  private server: TcpServer | TlsServer | undefined;
  /** Direct TLS behind the PROXY protocol: the TLS server that sockets are handed to after their header. */
  private tlsWrapper: TlsServer | undefined;
  /** Client addresses read from PROXY headers of sockets in their TLS handshake, by `peer address|port`. */
  private readonly handshaking = new Map<string, ClientAddress>();
  private readonly proxy: ProxyGate | undefined;
  /** Accepted connections without a stream yet (they never sent a byte): bounded by maxConnections. */
  private readonly silent = new Set<SocketTransport>();
  private boundPort = 0;
  private sockets = 0;
  private refused = 0;
  private accepted = 0;

  constructor(private readonly options: C2sListenerOptions) {
    // A bad trusted-proxy entry throws here, at configuration time.
    this.proxy = options.proxyProtocol === undefined ? undefined : new ProxyGate(options.proxyProtocol);
  }

  get kind(): ListenerKind {
    return this.options.kind;
  }

  get port(): number {
    return this.boundPort;
  }

  async listen(): Promise<number> {
    const { kind, certificates } = this.options;
    const handshakeTimeout = this.options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    let server: TcpServer | TlsServer;
    if (kind === 'starttls') {
      server = createTcpServer({ noDelay: true }, (socket) => this.onPlainSocket(socket));
    } else {
      const credentials = certificates.defaultCredentials;
      const tlsServer = createTlsServer(
        {
          ...CLIENT_TLS_SETTINGS,
          cert: credentials.cert,
          key: credentials.key,
          SNICallback: certificates.sniCallback,
          ALPNProtocols: [XMPP_CLIENT_ALPN],
          handshakeTimeout,
          noDelay: true,
        },
        (socket) => this.onSecureSocket(socket),
      );
      tlsServer.on('tlsClientError', (error: Error & { code?: string }, socket: TLSSocket) => {
        if (error.code === HANDSHAKE_TIMEOUT_CODE) this.options.protection.trip('tls-handshake-timeout', { listener: kind, address: socket.remoteAddress });
        this.options.log('debug', 'c2s-tls-handshake-failed', { error: errorName(error) });
        // With a tlsClientError listener node leaves the socket open (a handshake timeout too): cut it.
        socket.destroy();
      });
      if (this.proxy === undefined) {
        server = tlsServer;
      } else {
        // The header comes before the ClientHello: read it on plain TCP, then hand the socket over.
        this.tlsWrapper = tlsServer;
        server = createTcpServer({ noDelay: true }, (socket) => this.onProxiedTlsSocket(socket));
      }
    }
    server.maxConnections = this.options.maxConnections ?? Math.ceil(this.options.table.maxSessions * 1.1) + 16;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.options.log('warn', 'c2s-listener-error', { kind, error: errorName(error) }));
    this.boundPort = (server.address() as { port: number }).port;
    this.options.log('info', 'c2s-listening', { kind, host: this.options.host, port: this.boundPort });
    return this.boundPort;
  }

  /** Stops accepting; connections already open go on. */
  async stopAccepting(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    server.close();
  }

  stats(): { kind: ListenerKind; port: number; sockets: number; silent: number; accepted: number; refused: number; proxyProtocol: boolean } {
    return { kind: this.options.kind, port: this.boundPort, sockets: this.sockets, silent: this.silent.size, accepted: this.accepted, refused: this.refused, proxyProtocol: this.proxy !== undefined };
  }

  private onPlainSocket(socket: Socket): void {
    if (this.proxy === undefined) {
      this.accept(socket, false, { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, proxied: false });
      return;
    }
    void this.proxy.read(socket).then((outcome) => {
      if (!outcome.ok) return this.proxyRefused(outcome.code, outcome.peer);
      this.options.protection.proxyAccepted();
      if (socket.destroyed) return;
      this.accept(socket, false, outcome.client);
    });
  }

  private onProxiedTlsSocket(socket: Socket): void {
    void this.proxy!.read(socket).then((outcome) => {
      if (!outcome.ok) return this.proxyRefused(outcome.code, outcome.peer);
      const wrapper = this.tlsWrapper;
      if (wrapper === undefined || socket.destroyed) {
        socket.destroy();
        return;
      }
      this.options.protection.proxyAccepted();
      // The TLS socket node makes reports the same peer address and port (same handle).
      const key = `${socket.remoteAddress}|${socket.remotePort}`;
      this.handshaking.set(key, outcome.client);
      socket.once('close', () => this.handshaking.delete(key));
      wrapper.emit('connection', socket);
    });
  }

  private onSecureSocket(socket: TLSSocket): void {
    const key = `${socket.remoteAddress}|${socket.remotePort}`;
    const proxied = this.handshaking.get(key);
    this.handshaking.delete(key);
    this.accept(socket, true, proxied ?? { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, proxied: false });
  }

  private proxyRefused(code: string, peer: string): void {
    this.options.protection.proxyRefused(code, peer, this.options.kind);
  }

  private accept(socket: Socket | TLSSocket, direct: boolean, client: ClientAddress): void {
    const { table, hooks, streamOptions, log, protection } = this.options;
    const { limits } = protection;
    this.sockets++;
    const admission = protection.admit(client.address);
    let guard: ConnectionGuard | undefined = undefined;
    const transport: SocketTransport = new SocketTransport(socket, {
      certificates: direct ? undefined : this.options.certificates,
      lingerMs: this.options.lingerMs ?? DEFAULT_LINGER_MS,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      remoteAddress: client.address,
      shaping: limits.bytesPerSecond > 0 && !(admission.ok && admission.exempt) ? { bytesPerSecond: limits.bytesPerSecond, burstBytes: limits.burstBytes } : undefined,
      onThrottled: () => protection.trip('byte-rate', { address: client.address }),
      onHandshakeTimeout: () => protection.trip('tls-handshake-timeout', { listener: this.options.kind, address: client.address }),
      onGone: () => {
        this.sockets--;
        if (this.silent.delete(transport)) table.unreserve();
        guard?.gone();
      },
    });
    const connectionGuard = new ConnectionGuard(protection, client, admission, transport);
    guard = connectionGuard;
    const makeStream = (): ClientStream =>
      new ClientStream({
        transport,
        hooks: connectionGuard.hooksFor(hooks),
        options: streamOptions,
        tls: direct ? tlsInfoOf(socket as TLSSocket) : undefined,
      });
    if (!admission.ok) {
      // A per-IP limit (already counted and logged by the protection): RFC 6120 §4.9.3.14.
      this.refused++;
      const stream = makeStream();
      transport.attach(stream);
      stream.close(new StreamError('policy-violation', { text: 'too many connections from your address' }));
      return;
    }
    if (table.full) {
      const stream = makeStream();
      transport.attach(stream);
      this.refuseFull(stream);
      return;
    }
    this.accepted++;
    // The stream (parser, timers: most of a connection's memory) is made at the first byte, or
    // when a deadline or a shutdown has to speak to a connection that never sent one.
    this.silent.add(transport);
    table.reserve();
    transport.attachLazily(() => {
      if (this.silent.delete(transport)) table.unreserve();
      const stream = makeStream();
      if (table.full) {
        this.refuseFull(stream);
        return stream;
      }
      table.add(stream, direct ? 'tls' : 'tcp');
      connectionGuard.attachStream(stream);
      if (client.proxied) log('debug', 'c2s-proxied', { kind: this.options.kind, address: client.address, session: stream.sessionId });
      return stream;
    });
    connectionGuard.begin(() => transport.materialize());
  }

  private refuseFull(stream: ClientStream): void {
    // Beyond max-sessions: RFC 6120 §4.9.3.18, the server lacks the resources to serve the stream.
    this.refused++;
    this.options.log('warn', 'c2s-refused-full', { sessions: this.options.table.size });
    stream.close(new StreamError('resource-constraint'));
  }

  /** Connections that have not sent a byte (they have no stream yet). */
  get silentCount(): number {
    return this.silent.size;
  }

  /** Gives every silent connection its stream (so a shutdown can speak to it); returns how many. */
  materializeSilent(): number {
    const transports = [...this.silent];
    for (const transport of transports) transport.materialize();
    return transports.length;
  }
}

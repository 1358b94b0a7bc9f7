// The client listeners: 5222 (plain TCP, STARTTLS required by default, RFC 6120 §5) and 5223
// (TLS from the first byte, XEP-0368 with ALPN `xmpp-client`). Each accepted socket becomes a
// SocketTransport and a ClientStream; the session table counts it from accept to close.

import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { StreamError } from '@ambrosia/errors';
import { ClientStream, type ClientStreamHooks, type ClientStreamOptions } from '@ambrosia/stream';
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
  log: GatewayLogger;
}

export class C2sListener {
  private server: TcpServer | TlsServer | undefined;
  private boundPort = 0;
  private sockets = 0;
  private refused = 0;
  private accepted = 0;

  constructor(private readonly options: C2sListenerOptions) {}

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
      server = createTcpServer({ noDelay: true }, (socket) => this.accept(socket, false));
    } else {
      const credentials = certificates.defaultCredentials;
      server = createTlsServer(
        {
          ...CLIENT_TLS_SETTINGS,
          cert: credentials.cert,
          key: credentials.key,
          SNICallback: certificates.sniCallback,
          ALPNProtocols: [XMPP_CLIENT_ALPN],
          handshakeTimeout,
          noDelay: true,
        },
        (socket) => this.accept(socket, true),
      );
      (server as TlsServer).on('tlsClientError', (error) => this.options.log('debug', 'c2s-tls-handshake-failed', { error: errorName(error) }));
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

  stats(): { kind: ListenerKind; port: number; sockets: number; accepted: number; refused: number } {
    return { kind: this.options.kind, port: this.boundPort, sockets: this.sockets, accepted: this.accepted, refused: this.refused };
  }

  private accept(socket: Socket | TLSSocket, direct: boolean): void {
    const { table, hooks, streamOptions, log } = this.options;
    this.sockets++;
    const transport = new SocketTransport(socket, {
      certificates: direct ? undefined : this.options.certificates,
      lingerMs: this.options.lingerMs ?? DEFAULT_LINGER_MS,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      onGone: () => this.sockets--,
    });
    const stream = new ClientStream({
      transport,
      hooks,
      options: streamOptions,
      tls: direct ? tlsInfoOf(socket as TLSSocket) : undefined,
    });
    if (table.full) {
      // Beyond max-sessions: RFC 6120 §4.9.3.18, the server lacks the resources to serve the stream.
      this.refused++;
      log('warn', 'c2s-refused-full', { sessions: table.size });
      transport.attach(stream);
      stream.close(new StreamError('resource-constraint'));
      return;
    }
    this.accepted++;
    table.add(stream, direct ? 'tls' : 'tcp');
    transport.attach(stream);
  }
}

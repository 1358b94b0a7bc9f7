// A TCP or TLS socket as the stream state machine sees it (@ambrosia/stream `StreamTransport`):
// writes with the socket's high-water mark as backpressure, pause/resume, STARTTLS upgrading the
// same connection in place (RFC 6120 §5.4.3.3), a graceful close that lingers a bounded time for
// a peer that does not read, and a hard destroy.

import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { channelBindingsForTls } from '@ambrosia/sasl';
import type { ClientStream, StreamTransport, TlsInfo } from '@ambrosia/stream';
import { CLIENT_TLS_SETTINGS, type DomainCertificates } from './certificates.js';

export type TransportKind = 'tcp' | 'tls';

export interface SocketTransportOptions {
  /** Certificates for STARTTLS (plain sockets only). */
  certificates?: DomainCertificates;
  /** How long `close()` waits for the peer to take our last bytes before cutting (default 5 s). */
  lingerMs?: number;
  /** Longest STARTTLS handshake (default 10 s); exceeded → the connection is destroyed. */
  handshakeTimeoutMs?: number;
  /** Called once when the socket is gone (for connection accounting). */
  onGone?: () => void;
}

export const DEFAULT_LINGER_MS = 5_000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Channel bindings and identity of a server-side TLS socket, for SASL (-PLUS). */
export function tlsInfoOf(socket: TLSSocket): TlsInfo {
  return {
    channelBindings: channelBindingsForTls({
      protocol: socket.getProtocol() ?? undefined,
      exportKeyingMaterial: socket.exportKeyingMaterial.bind(socket),
      serverCertificate: socket.getX509Certificate()?.raw,
    }),
  };
}

export class SocketTransport implements StreamTransport {
  readonly remoteAddress: string;
  private socket: Socket;
  private stream: ClientStream | undefined;
  private kindNow: TransportKind;
  private lingerTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private ending = false;
  private gone = false;
  private readonly lingerMs: number;
  private readonly handshakeTimeoutMs: number;

  private readonly onData = (data: Buffer): void => this.stream?.receive(data);
  private readonly onDrain = (): void => this.stream?.drained();
  private readonly onClose = (): void => this.lost(undefined);
  private readonly onError = (error: Error): void => this.lost(error);

  constructor(socket: Socket, private readonly options: SocketTransportOptions = {}) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.kindNow = socket instanceof TLSSocket ? 'tls' : 'tcp';
    this.lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    // XMPP is interactive: Nagle's algorithm turned 5 ms deliveries into 78 ms (design notes).
    socket.setNoDelay(true);
  }

  /** Starts reading into `stream`. */
  attach(stream: ClientStream): void {
    this.stream = stream;
    this.listen(this.socket);
  }

  get kind(): TransportKind {
    return this.kindNow;
  }

  get canStartTls(): boolean {
    return this.kindNow === 'tcp' && this.options.certificates !== undefined;
  }

  write(data: Buffer): boolean {
    if (this.gone || this.socket.destroyed || !this.socket.writable) return true;
    return this.socket.write(data);
  }

  startTls(): void {
    const certificates = this.options.certificates;
    if (certificates === undefined || this.kindNow !== 'tcp' || this.gone) {
      this.stream?.transportClosed(new Error('STARTTLS not possible'));
      return;
    }
    const plain = this.socket;
    // Nothing read on the plain connection from here on may reach the stream (RFC 6120 §5.4.3.3;
    // CVE-2011-1431): stop listening before the TLS layer takes the handle over.
    this.unlisten(plain);
    const domain = this.stream?.domain;
    const secure = new TLSSocket(plain, {
      isServer: true,
      ...CLIENT_TLS_SETTINGS,
      // The stream's domain was resolved (and its certificate prepared) before <proceed/>; SNI may
      // still pick another of our certificates.
      secureContext: (domain !== undefined ? certificates.peek(domain) : undefined) ?? certificates.defaultContext,
      SNICallback: certificates.sniCallback,
    });
    this.socket = secure;
    this.kindNow = 'tls';
    this.listen(secure);
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = undefined;
      this.destroy();
    }, this.handshakeTimeoutMs);
    this.handshakeTimer.unref();
    secure.once('secure', () => {
      this.clearHandshakeTimer();
      if (this.gone) return;
      this.stream?.tlsEstablished(tlsInfoOf(secure));
    });
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.ending) this.socket.resume();
  }

  close(): void {
    if (this.ending || this.gone) return;
    this.ending = true;
    this.socket.end();
    // A peer that does not read keeps our last bytes in the send buffer forever: bounded linger.
    this.lingerTimer = setTimeout(() => this.socket.destroy(), this.lingerMs);
    this.lingerTimer.unref();
  }

  destroy(): void {
    this.ending = true;
    this.socket.destroy();
  }

  private listen(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
  }

  private unlisten(socket: Socket): void {
    socket.removeListener('data', this.onData);
    socket.removeListener('drain', this.onDrain);
    socket.removeListener('close', this.onClose);
    // An error listener stays: the plain socket's late errors must not crash the process.
    socket.removeListener('error', this.onError);
    socket.on('error', () => {});
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  private lost(error: Error | undefined): void {
    if (error !== undefined) {
      // 'close' follows an 'error'; the stream learns it once, with the error.
      this.socket.destroy();
    }
    if (this.gone) return;
    this.gone = true;
    this.clearHandshakeTimer();
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.stream?.transportClosed(error);
    this.stream = undefined;
    this.options.onGone?.();
  }
}

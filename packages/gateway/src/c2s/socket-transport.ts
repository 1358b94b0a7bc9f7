// A TCP or TLS socket as the stream state machine sees it (@ambrosia/stream `StreamTransport`):
// writes with the socket's high-water mark as backpressure, pause/resume, STARTTLS upgrading the
// same connection in place (RFC 6120 §5.4.3.3), a graceful close that lingers a bounded time for
// a peer that does not read, and a hard destroy.

import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { shapeSocket, TokenBucket, type SocketShaper } from '@ambrosia/edge-limits';
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
  /** The client's address when a PROXY header gave it; default the socket's peer address. */
  remoteAddress?: string;
  /** Shapes the bytes read (token bucket: bytes per second, burst); absent: no shaping. */
  shaping?: { bytesPerSecond: number; burstBytes: number };
  /** Reading was paused for the byte rate (once per pause). */
  onThrottled?: () => void;
  /** The STARTTLS handshake deadline passed. */
  onHandshakeTimeout?: () => void;
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
  // Reading flows only when nobody holds it: the stream (its own backpressure), the stanza-rate
  // hold, and (inside the shaper) the byte rate. Once shaped, the socket is paused and resumed
  // only through the shaper (edge-limits README, "one owner for pause/resume").
  private readonly bucket: TokenBucket | undefined;
  private shaper: SocketShaper | undefined;
  private throttlesSeen = 0;
  private streamHold = false;
  private holdTimer: NodeJS.Timeout | undefined;

  /** Makes the stream at the first byte (`attachLazily`), so a silent connection costs no stream. */
  private streamFactory: (() => ClientStream) | undefined;

  private readonly onData = (data: Buffer): void => {
    const shaper = this.shaper;
    // The shaper's listener ran first (it was added first): a new throttle shows in its count.
    if (shaper !== undefined && shaper.throttles !== this.throttlesSeen) {
      this.throttlesSeen = shaper.throttles;
      this.options.onThrottled?.();
    }
    if (this.stream === undefined) this.materialize();
    this.stream?.receive(data);
  };
  private readonly onDrain = (): void => this.stream?.drained();
  private readonly onClose = (): void => this.lost(undefined);
  private readonly onError = (error: Error): void => this.lost(error);

  constructor(socket: Socket, private readonly options: SocketTransportOptions = {}) {
    this.socket = socket;
    this.remoteAddress = options.remoteAddress ?? socket.remoteAddress ?? '';
    this.kindNow = socket instanceof TLSSocket ? 'tls' : 'tcp';
    this.lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    // XMPP is interactive: Nagle's algorithm turned 5 ms deliveries into 78 ms (design notes).
    socket.setNoDelay(true);
    if (options.shaping !== undefined) {
      this.bucket = new TokenBucket({ rate: options.shaping.bytesPerSecond, burst: options.shaping.burstBytes });
      this.shaper = shapeSocket(socket, this.bucket);
    }
  }

  /** Starts reading into `stream`. */
  attach(stream: ClientStream): void {
    this.stream = stream;
    this.listen(this.socket);
    // A socket that went through a PROXY header was left paused: start it (unless held).
    this.applyReading();
  }

  /**
   * Starts reading, and makes the stream with `factory` only when the first byte arrives (or
   * when `materialize()` is called: a deadline or a shutdown that must speak to the client).
   * A connection that never sends anything then holds a socket and this transport only.
   */
  attachLazily(factory: () => ClientStream): void {
    this.streamFactory = factory;
    this.listen(this.socket);
    this.applyReading();
  }

  /** The stream, made now if it was not yet; undefined once the socket is gone. */
  materialize(): ClientStream | undefined {
    const factory = this.streamFactory;
    if (this.stream === undefined && factory !== undefined && !this.gone) {
      this.streamFactory = undefined;
      this.stream = factory();
    }
    return this.stream;
  }

  /** True while the connection is open and has no stream yet (it never sent a byte). */
  get silent(): boolean {
    return this.stream === undefined && this.streamFactory !== undefined && !this.gone;
  }

  get kind(): TransportKind {
    return this.kindNow;
  }

  get canStartTls(): boolean {
    return this.kindNow === 'tcp' && this.options.certificates !== undefined;
  }

  write(data: Buffer): boolean {
    if (this.gone || this.socket.destroyed || !this.socket.writable) return true;
    // Stanzas written in one turn of the event loop leave in one write (one TLS flight, one
    // syscall) instead of one each: a burst of deliveries costs the client and us far less.
    if (this.corked === undefined) {
      const socket = this.socket;
      socket.cork();
      this.corked = socket;
      process.nextTick(this.uncork);
    }
    return this.socket.write(data);
  }

  private corked: Socket | undefined;
  private readonly uncork = (): void => {
    const socket = this.corked;
    this.corked = undefined;
    socket?.uncork();
  };

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
    // The same bucket goes on shaping the TLS layer's bytes (the plain socket is no longer read).
    const oldShaper = this.shaper;
    this.shaper = undefined;
    // Held first, so that stopping it does not set the plain socket flowing with no reader.
    oldShaper?.pauseReading();
    oldShaper?.stop();
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
    if (this.bucket !== undefined) {
      this.shaper = shapeSocket(secure, this.bucket);
      this.throttlesSeen = 0;
    }
    this.listen(secure);
    this.applyReading();
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = undefined;
      this.options.onHandshakeTimeout?.();
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
    this.streamHold = true;
    this.applyReading();
  }

  resumeReading(): void {
    this.streamHold = false;
    this.applyReading();
  }

  /** Stops reading for `ms` (the stanza-rate guard's `slow`); a later hold replaces an earlier one. */
  holdReading(ms: number): void {
    if (this.gone) return;
    if (this.holdTimer !== undefined) clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      this.applyReading();
    }, Math.max(1, ms));
    this.holdTimer.unref();
    this.applyReading();
  }

  private applyReading(): void {
    if (this.gone) return;
    const held = this.streamHold || this.holdTimer !== undefined;
    const shaper = this.shaper;
    if (held) {
      if (shaper !== undefined) shaper.pauseReading();
      else this.socket.pause();
    } else if (!this.ending) {
      if (shaper !== undefined) shaper.resumeReading();
      else this.socket.resume();
    }
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
    if (this.holdTimer !== undefined) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.shaper?.stop();
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.stream?.transportClosed(error);
    this.stream = undefined;
    this.streamFactory = undefined;
    this.options.onGone?.();
  }
}

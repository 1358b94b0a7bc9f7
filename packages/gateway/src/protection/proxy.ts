// PROXY protocol (HAProxy's doc/proxy-protocol.txt, v1 and v2) in front of a client listener:
// the header is read before anything else — before the stream header on 5222, before the
// ClientHello on 5223 — and only from trusted proxies, so that every per-IP limit, the SASL
// brute-force policy and the logs see the real client address.

import type { Socket } from 'node:net';
import { isProxyProtocolError, readProxyHeader, TrustedProxies, DEFAULT_HEADER_TIMEOUT_MS, type ProxiedConnection } from '@ambrosia/proxy-protocol';

export interface ProxyProtocolOptions {
  /** Addresses or CIDRs of the proxies allowed to send a header; a header from anyone else is refused. */
  trusted: string[];
  /**
   * `required` (default): a trusted peer must send a header (a proxy that stopped sending it
   * would put every client under the proxy's address). `optional`: a trusted peer may connect
   * without one. Untrusted peers without a header connect as themselves in both modes.
   */
  mode?: 'required' | 'optional';
  /** The header must arrive within this (ms, default 5000); otherwise the connection is cut. */
  headerTimeoutMs?: number;
}

/** One setting for every client listener, or one per listener (absent: no PROXY protocol there). */
export type ProxyProtocolConfig = ProxyProtocolOptions | { c2s?: ProxyProtocolOptions; c2sTls?: ProxyProtocolOptions };

/** The settings of one listener, or undefined when it speaks no PROXY protocol. */
export function proxyOptionsFor(config: ProxyProtocolConfig | undefined, listener: 'c2s' | 'c2sTls'): ProxyProtocolOptions | undefined {
  if (config === undefined) return undefined;
  if ('trusted' in config) return config as ProxyProtocolOptions;
  return (config as { c2s?: ProxyProtocolOptions; c2sTls?: ProxyProtocolOptions })[listener];
}

/** The client's address as the limits see it. */
export interface ClientAddress {
  address: string;
  port: number;
  /** True when it came from a PROXY header. */
  proxied: boolean;
}

export type ProxyOutcome = { ok: true; client: ClientAddress } | { ok: false; code: string; peer: string };

/** A listener's PROXY protocol gate: the trusted set is parsed once (a bad CIDR throws at construction). */
export class ProxyGate {
  private readonly trusted: TrustedProxies;
  private readonly mode: 'required' | 'optional';
  private readonly timeoutMs: number;

  constructor(options: ProxyProtocolOptions) {
    this.trusted = new TrustedProxies(options.trusted);
    this.mode = options.mode ?? 'required';
    if (this.mode !== 'required' && this.mode !== 'optional') throw new RangeError(`proxyProtocol.mode must be required or optional, got ${String(this.mode)}`);
    this.timeoutMs = options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
    if (!Number.isSafeInteger(this.timeoutMs) || this.timeoutMs < 1) throw new RangeError('proxyProtocol.headerTimeoutMs must be a positive integer');
  }

  /**
   * Reads the header. On success the socket is paused and the bytes after the header are back in
   * it (a TLS layer wrapped afterwards reads the ClientHello from there). On refusal the socket
   * is already destroyed.
   */
  async read(socket: Socket): Promise<ProxyOutcome> {
    const peer = socket.remoteAddress ?? '';
    try {
      const connection: ProxiedConnection = await readProxyHeader(socket, { trusted: this.trusted, mode: this.mode, timeoutMs: this.timeoutMs });
      return { ok: true, client: { address: connection.remoteAddress, port: connection.remotePort, proxied: connection.proxied } };
    } catch (error) {
      socket.destroy();
      return { ok: false, code: isProxyProtocolError(error) ? error.code : 'PROXY_FAILED', peer };
    }
  }
}

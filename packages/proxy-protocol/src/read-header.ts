// readProxyHeader: the decoder applied to a real socket, before any application byte is read.
import type { Socket } from 'node:net';
import { ProxyHeaderDecoder } from './decoder.js';
import { ProxyErrorCode, ProxyProtocolError } from './errors.js';
import type { TrustedProxies } from './trusted.js';
import type { ProxyHeader } from './types.js';

/** Default deadline for the header (and, from untrusted peers, for the first bytes). */
export const DEFAULT_HEADER_TIMEOUT_MS = 5000;

export interface ReadProxyHeaderOptions {
  /** Peers allowed to send a header. Anyone else who sends one is refused. */
  readonly trusted: TrustedProxies;
  /**
   * `required` (default): a trusted peer must send a header, else it is refused — the safe
   * choice when every connection comes through the proxy. `optional`: a trusted peer may
   * also connect without one (a monitoring host inside the trusted range, say).
   */
  readonly mode?: 'required' | 'optional';
  /** The header (or, for untrusted peers, the bytes deciding there is none) must arrive within this (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Largest v2 header (default 1024, see ProxyHeaderDecoder). */
  readonly maxV2Bytes?: number;
  /**
   * What to do with the bytes read after the header: `unshift` (default) puts them back into
   * the socket so the next reader sees them first; `return` leaves them in `rest`.
   * Wrapping the socket in `tls.TLSSocket` afterwards? See the README: use `return`.
   */
  readonly rest?: 'unshift' | 'return';
}

export interface ProxiedConnection {
  /** The client's address: from the header when it carries one, else the TCP peer's. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily: string;
  readonly localAddress: string;
  readonly localPort: number;
  /** True when the addresses above come from a PROXY header. */
  readonly proxied: boolean;
  /** The TCP peer itself (the proxy when `proxied`). */
  readonly peer: { readonly address: string; readonly port: number };
  /** The header as received (also for `local`/`UNKNOWN` ones), without its `rest`. */
  readonly header: ProxyHeader | undefined;
  /** Application bytes read past the header; empty in `unshift` mode. */
  readonly rest: Buffer;
}

const FAMILY_NAME = { ipv4: 'IPv4', ipv6: 'IPv6' } as const;

/**
 * Reads a PROXY header from a fresh socket. Resolves with the connection's real addresses and
 * leaves the socket paused; rejects with a {@link ProxyProtocolError} after destroying the
 * socket when the peer is refused:
 * - UNTRUSTED: a peer outside `trusted` started a header (its first bytes matched a signature);
 * - MISSING: a trusted peer sent no header in `required` mode;
 * - MALFORMED / TOO_LONG / UNSUPPORTED / CHECKSUM: a trusted peer sent a bad one;
 * - TIMEOUT: nothing decisive within `timeoutMs`; CLOSED: the peer left first.
 * An untrusted peer sending anything else resolves with `proxied: false`.
 */
export function readProxyHeader(socket: Socket, options: ReadProxyHeaderOptions): Promise<ProxiedConnection> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
  const required = (options.mode ?? 'required') === 'required';
  const unshift = (options.rest ?? 'unshift') === 'unshift';
  const decoder = new ProxyHeaderDecoder({ maxV2Bytes: options.maxV2Bytes });

  return new Promise((resolve, reject) => {
    const peerAddress = socket.remoteAddress;
    const peerPort = socket.remotePort;
    if (peerAddress === undefined || peerPort === undefined || socket.destroyed) {
      socket.destroy();
      reject(new ProxyProtocolError(ProxyErrorCode.CLOSED, 'the connection closed before its PROXY header'));
      return;
    }
    const trusted = options.trusted.trusts(peerAddress);
    let settled = false;

    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onClosed);
      socket.off('close', onClosed);
      socket.off('error', onError);
    };
    const fail = (error: ProxyProtocolError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      reject(error);
    };
    const succeed = (header: ProxyHeader | undefined, rest: Buffer): void => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.pause();
      if (unshift && rest.length > 0) socket.unshift(rest);
      const source = header?.command === 'proxy' && (header.family === 'ipv4' || header.family === 'ipv6') ? header.source : undefined;
      const destination = source ? header!.destination : undefined;
      resolve({
        remoteAddress: source?.address ?? peerAddress,
        remotePort: source?.port ?? peerPort,
        remoteFamily: source ? FAMILY_NAME[header!.family as 'ipv4' | 'ipv6'] : (socket.remoteFamily ?? ''),
        localAddress: destination?.address ?? socket.localAddress ?? '',
        localPort: destination?.port ?? socket.localPort ?? 0,
        proxied: source !== undefined,
        peer: { address: peerAddress, port: peerPort },
        header,
        rest: unshift ? Buffer.alloc(0) : rest,
      });
    };
    const untrusted = (): void =>
      fail(new ProxyProtocolError(ProxyErrorCode.UNTRUSTED, `a PROXY header from ${peerAddress}, which is not a trusted proxy`));

    function onData(chunk: Buffer): void {
      const step = decoder.push(chunk);
      // Refuse an untrusted peer as soon as its bytes match a signature, before decoding more.
      if (!trusted && (decoder.version !== undefined || step.status === 'header')) return untrusted();
      switch (step.status) {
        case 'incomplete':
          return;
        case 'header': {
          const { rest, ...header } = step.header;
          return succeed(header, rest);
        }
        case 'absent':
          if (trusted && required) return fail(new ProxyProtocolError(ProxyErrorCode.MISSING, `no PROXY header from the trusted proxy ${peerAddress}`));
          return succeed(undefined, step.rest);
        case 'error':
          return fail(step.error);
      }
    }
    function onClosed(): void {
      fail(new ProxyProtocolError(ProxyErrorCode.CLOSED, 'the connection closed before its PROXY header'));
    }
    function onError(error: Error): void {
      fail(new ProxyProtocolError(ProxyErrorCode.CLOSED, `the connection failed before its PROXY header: ${error.message}`, { cause: error }));
    }

    const timer = setTimeout(() => fail(new ProxyProtocolError(ProxyErrorCode.TIMEOUT, `no complete PROXY header within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.on('end', onClosed);
    socket.on('close', onClosed);
    socket.on('error', onError);
    socket.resume();
  });
}

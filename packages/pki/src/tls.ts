/**
 * TLS options for the service channel: TLS 1.3 only, both sides authenticated by certificates
 * of the cluster CA, nothing else trusted (not the system CA store).
 */
import { constants } from 'node:crypto';
import { checkServerIdentity, createSecureContext, type ConnectionOptions, type PeerCertificate, type SecureContext, type TLSSocket, type TlsOptions } from 'node:tls';
import { readPeerAuthorisation, type PeerAuthorisation } from './authorisation.js';
import { PkiError } from './errors.js';

/**
 * The ALPN protocol of the service channel (docs/service-protocol.md §2.1; the same value as
 * `ALPN_PROTOCOL` in @ambrosia/service-protocol, which this layer-0 package cannot import).
 */
export const SERVICE_CHANNEL_ALPN = 'ambrosia-service/1';

export interface ChannelCredentials {
  /** The cluster CA certificate (never its key): the only trust anchor of the channel. */
  caCertPem: string;
  /** This node's certificate, issued by the cluster CA. */
  certPem: string;
  keyPem: string;
}

function requireCredentials(credentials: ChannelCredentials): void {
  for (const field of ['caCertPem', 'certPem', 'keyPem'] as const) {
    if (typeof credentials?.[field] !== 'string' || credentials[field].length === 0) {
      throw new PkiError('PKI_INVALID_ARGUMENT', `channel credentials need ${field}`);
    }
  }
}

function secureContextFor(credentials: ChannelCredentials): SecureContext {
  try {
    return createSecureContext({
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ca: [credentials.caCertPem],
      cert: credentials.certPem,
      key: credentials.keyPem,
    });
  } catch (cause) {
    throw new PkiError('PKI_INVALID_ARGUMENT', `unusable channel credentials: ${(cause as Error).message}`, { cause });
  }
}

/**
 * For the gateway's service-channel listener (`tls.createServer(options)`). A client without a
 * certificate of the cluster CA fails the handshake; what a verified peer may do is then read
 * with `authorisedChannelPeer(socket)`.
 */
export function tlsOptionsForChannelServer(credentials: ChannelCredentials, options: { alpnProtocol?: string } = {}): TlsOptions {
  requireCredentials(credentials);
  secureContextFor(credentials); // fail here, with a PkiError, rather than in createServer()
  return {
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ca: [credentials.caCertPem],
    cert: credentials.certPem,
    key: credentials.keyPem,
    requestCert: true,
    rejectUnauthorized: true,
    // A client offering other protocols fails the handshake; one offering none gets through
    // TLS and is refused by authorisedChannelPeer (§2.1: the gateway MUST close it).
    ALPNProtocols: [options.alpnProtocol ?? SERVICE_CHANNEL_ALPN],
    // No session resumption (RFC 8446 §2.2): every reconnect presents and re-verifies its
    // certificate, so one that has expired since is refused. It also saves the stateless
    // tickets' cost, about a quarter of the server's CPU per handshake in the bench. With
    // this option OpenSSL only sends stateful tickets, which Node keeps nowhere unless a
    // 'newSession' listener stores them, so nothing accumulates.
    secureOptions: constants.SSL_OP_NO_TICKET,
  };
}

export interface ChannelClientOptions {
  /** Default SERVICE_CHANNEL_ALPN. */
  alpnProtocol?: string;
  /**
   * Check that the gateway's certificate names the host dialled (dNSName or iPAddress SAN,
   * RFC 6125), as for any TLS server. Default true. Turn off only where gateway addresses
   * cannot be known when certificates are issued; the CA and the gateway role are still checked.
   */
  verifyHostname?: boolean;
}

/**
 * For a service or admin dialling a gateway (`tls.connect({ host, port, ...options })`).
 * Beyond the CA check, the server must hold the gateway role: a service certificate, even
 * one from the cluster CA, cannot pose as a gateway.
 */
export function tlsOptionsForChannelClient(credentials: ChannelCredentials, options: ChannelClientOptions = {}): ConnectionOptions {
  requireCredentials(credentials);
  const verifyHostname = options.verifyHostname ?? true;
  // One secure context for every connection made with these options: otherwise Node parses the
  // PEMs and builds a CA store per connect(), which the bench showed costing about a third of a
  // whole mutual handshake.
  const secureContext = secureContextFor(credentials);
  return {
    secureContext,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ALPNProtocols: [options.alpnProtocol ?? SERVICE_CHANNEL_ALPN],
    rejectUnauthorized: true,
    checkServerIdentity: (host: string, cert: PeerCertificate): Error | undefined => {
      if (verifyHostname) {
        const mismatch = checkServerIdentity(host, cert);
        if (mismatch !== undefined) return mismatch;
      }
      const authorisation = readPeerAuthorisation(cert);
      if (authorisation?.role !== 'gateway') {
        return new PkiError('PKI_WRONG_PEER_ROLE', `the service-channel server presented a ${authorisation?.role ?? 'role-less'} certificate, not a gateway certificate`);
      }
      return undefined;
    },
  };
}

/**
 * What the peer of an established service-channel socket may do: undefined unless TLS verified
 * its certificate against the cluster CA, the link negotiated the channel's ALPN protocol
 * (§2.1) and the certificate carries a well-formed role (§2.2). Either side may call it.
 */
export function authorisedChannelPeer(socket: TLSSocket, options: { alpnProtocol?: string } = {}): PeerAuthorisation | undefined {
  if (!socket.authorized) return undefined;
  if (socket.alpnProtocol !== (options.alpnProtocol ?? SERVICE_CHANNEL_ALPN)) return undefined;
  return readPeerAuthorisation(socket.getPeerCertificate());
}

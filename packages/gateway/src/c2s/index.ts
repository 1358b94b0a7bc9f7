// The client edge (c2s): listeners on 5222 (STARTTLS) and 5223 (direct TLS, XEP-0368), the
// socket transport, SNI certificates, the session table and the stream hooks. See README.md.
export { ClientEdge, authenticatorFor, streamOptionsWithLimits, type ClientEdgeOptions, type AuthSettings } from './edge.js';
export { C2sListener, XMPP_CLIENT_ALPN, type C2sListenerOptions, type ListenerKind } from './listener.js';
export { SocketTransport, tlsInfoOf, DEFAULT_LINGER_MS, DEFAULT_HANDSHAKE_TIMEOUT_MS, type SocketTransportOptions, type TransportKind } from './socket-transport.js';
export {
  DomainCertificates,
  CLIENT_TLS_SETTINGS,
  DEFAULT_MAX_ISSUED_CERTIFICATES,
  certificateKey,
  type DomainCertificate,
  type DomainCertificatesOptions,
} from './certificates.js';
export { SessionTable, DEFAULT_MAX_SESSIONS, type SessionEntry } from './session-table.js';
export { createClientHooks, kickLocal, closedReason, routingDomain, type EdgeContext, type ClosedReason } from './hooks.js';
export { broadcastPresence, priorityOf } from './presence.js';
export { safeLogger, silentLogger, errorName, type GatewayLogger, type LogLevel, type LogFields } from './log.js';

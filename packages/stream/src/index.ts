// @ambrosia/stream: the server side of an XMPP client stream (RFC 6120 negotiation, XEP-0198,
// XEP-0352, XEP-0478) as a transport-agnostic state machine. See README.md.
export { ClientStream } from './client-stream.js';
export type { ClientStreamInit, ClientStreamState } from './client-stream.js';
export { resolveConfig, DEFAULT_CONFIG, DEFAULT_SM_CONFIG } from './config.js';
export type { ClientStreamConfig, ClientStreamOptions, StreamManagementConfig } from './config.js';
export { systemClock, ManualClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export * from './namespaces.js';
export type {
  AuthConnectionInfo,
  BindOutcome,
  BindRequest,
  ClientState,
  ClientStreamHooks,
  DeliverOptions,
  DeliverResult,
  DeliveryOutcome,
  DomainResolution,
  ResumeLookup,
  ResumptionRecord,
  StanzaContext,
  StreamAuthSession,
  StreamAuthenticator,
  StreamClosedInfo,
  StreamLogger,
  StreamTransport,
  TlsInfo,
} from './types.js';

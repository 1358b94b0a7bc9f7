// @ambrosia/sasl: server-side SASL as pure state machines. No XML, no sockets, no storage:
// payloads in and out are Buffers, credentials arrive through SaslContext.lookup.

export * from './types.js';
export { SaslError, isSaslError, type SaslErrorCode } from './errors.js';
export { decodeSaslPayload, encodeSaslPayload, decodeBase64Strict, DEFAULT_MAX_PAYLOAD_BYTES } from './payload.js';
export type { DecodedPayload } from './payload.js';
export { saslprepQuery, saslprepStored } from './saslprep.js';
export {
  makeScramCredentials,
  verifyPlain,
  preparePasswordForStorage,
  makeDecoyCredential,
  decodeCredential,
  constantTimeEqual,
  saltedPassword,
  keysFromSaltedPassword,
  hmac,
  digest,
  HASH_PARAMETERS,
  DEFAULT_ITERATIONS,
  MIN_ITERATIONS,
  MAX_ITERATIONS,
  SALT_BYTES,
} from './credentials.js';
export type { MakeScramCredentialsOptions, DecodedCredential, HashParameters } from './credentials.js';
export {
  channelBindingsForTls,
  channelBindingAdvertisement,
  tlsServerEndPoint,
  isChannelBindingType,
  isChannelBindingNegotiationFailure,
  NS_SASL_CHANNEL_BINDING,
  TLS_EXPORTER_LABEL,
  TLS_EXPORTER_LENGTH,
} from './channel-binding.js';
export type { TlsConnectionInfo } from './channel-binding.js';
export { downgradeProtectionHash, downgradeProtectionInput } from './downgrade.js';
export { certificateIdentities } from './x509.js';
export { dnsNameMatches, certificateNamesDomain } from './external.js';
export { decodeSaslname } from './scram-messages.js';
export { SaslServer, DEFAULT_MECHANISMS, DEFAULT_MAX_ATTEMPTS } from './server.js';
export type { SaslServerOptions, OfferContext } from './server.js';

export { PkiError, isPkiError, type PkiErrorCode } from './errors.js';
export { DEFAULT_KEY_TYPE, type KeyType } from './keys.js';
export {
  ANY_DOMAIN,
  REGISTER_URI_PREFIX,
  REGISTRATION_TYPES,
  ROLES,
  ROLE_URI_PREFIX,
  mayRegister,
  permissionUri,
  readPeerAuthorisation,
  roleUri,
  type PeerAuthorisation,
  type RegistrationType,
  type Role,
  type ServicePermission,
} from './authorisation.js';
export {
  CLOCK_SKEW_ALLOWANCE_MS,
  DEFAULT_CA_COMMON_NAME,
  DEFAULT_CA_VALIDITY_DAYS,
  DEFAULT_CERTIFICATE_VALIDITY_DAYS,
  MAX_NAMES_PER_CERTIFICATE,
  MAX_VALIDITY_DAYS,
  createCA,
  issueCertificate,
  issueDomainCertificate,
  keyMatchesCertificate,
  selfSignedCertificate,
  type CertificateAndKey,
  type CertificateAuthority,
  type CreateCAOptions,
  type DomainCertificateOptions,
  type IssueRequest,
} from './ca.js';
export { readXmppIdentities, type XmppIdentities } from './xmpp-identities.js';
export {
  CA_CERT_FILE,
  CA_KEY_FILE,
  CERTIFICATE_MODE,
  PRIVATE_KEY_MODE,
  loadCA,
  writeCAFiles,
  writeCertificateFiles,
  type WriteOptions,
} from './files.js';
export {
  SERVICE_CHANNEL_ALPN,
  authorisedChannelPeer,
  tlsOptionsForChannelClient,
  tlsOptionsForChannelServer,
  type ChannelClientOptions,
  type ChannelCredentials,
} from './tls.js';

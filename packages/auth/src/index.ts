// @ambrosia/auth: authentication as the gateway applies it. SASL mechanisms from
// @ambrosia/sasl composed with credential storage, user management for the CLI, and
// brute-force protection shared by every gateway through the registry's counters.

export type { CredentialStore, CounterStore, CredentialRecord, Clock } from './types.js';
export { systemClock } from './types.js';
export { AuthError, isAuthError, type AuthErrorCode } from './errors.js';
export { normalizeUsername, tryNormalizeUsername, normalizeDomain } from './normalize.js';
export {
  addUser,
  setPassword,
  setUserDisabled,
  deleteUser,
  listUsers,
  MAX_PASSWORD_LENGTH,
  DEFAULT_LIST_LIMIT,
  MAX_LIST_LIMIT,
  type PasswordOptions,
} from './users.js';
export {
  createBruteForcePolicy,
  addressKey,
  type BruteForcePolicy,
  type BruteForcePolicyOptions,
  type BruteForceVerdict,
} from './brute-force.js';
export { createResponseTimer, DEFAULT_MIN_RESPONSE_MS, type ResponseTimer } from './timing.js';
export {
  createAuthenticator,
  type Authenticator,
  type AuthenticatorOptions,
  type AuthSession,
  type ConnectionInfo,
} from './authenticator.js';

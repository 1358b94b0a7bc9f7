// @ambrosia/service-sdk: the service side of the service channel (docs/service-protocol.md).
export type * from './api.js';
export { DomainService, type DomainServiceStats } from './domain-service.js';
export { DEFAULTS, SDK_SOFTWARE, type DomainServiceSettings, type UserLookupHandler, type UserLookupQuery } from './options.js';
export { ServiceSdkError, SERVICE_SDK_ERROR_CODES, isServiceSdkError, type ServiceSdkErrorCode } from './errors.js';
export { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export type { UserLookupResult, ScramCredentials } from '@ambrosia/service-protocol';

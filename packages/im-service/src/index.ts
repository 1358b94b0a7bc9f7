// @ambrosia/im-service: RFC 6121 and the everyday XEPs on the service SDK (README.md).
export { ImService, DEFAULT_VERSION, type ImServiceOptions } from './service.js';
export { DEFAULT_IM_SERVICE_LIMITS, type ImServiceLimits, type ResolvedImServiceLimits } from './limits.js';
export { SESSION_FLAGS_NAMESPACE, type AccountDirectory, type ImFeatures, type UserSession } from './context.js';
export { inboundSubscription, outboundSubscription, type InboundDecision, type OutboundDecision, type SubscriptionType } from './subscription.js';
export { NS } from './namespaces.js';
export { createImService, registryAccounts, registryRegistrar, type CreateImServiceOptions, type ImServiceHandle } from './create.js';
export type { AccountRegistrar } from './features/register.js';

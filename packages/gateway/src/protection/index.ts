// Edge protection (issue #8): the limits, the PROXY protocol gate, the shared per-IP state and
// the per-connection guard. See the Limits section of the package README.
export { DEFAULT_GATEWAY_LIMITS, LIMIT_NAMES, resolveGatewayLimits, type GatewayLimits, type GatewayLimitsOptions, type LimitName, type RateLimit } from './limits.js';
export { ProxyGate, proxyOptionsFor, type ProxyProtocolOptions, type ProxyProtocolConfig, type ClientAddress, type ProxyOutcome } from './proxy.js';
export { EdgeProtection, emptyProtectionStats, type PreAuthExpiry, MAX_CLUSTER_CHECKS_IN_FLIGHT, CLUSTER_RATE_KEY_PREFIX, type Admission, type ProtectionStats, type EdgeProtectionOptions } from './protection.js';
export { ConnectionGuard, type HoldableTransport } from './connection-guard.js';
export { DeadlineQueue, type DeadlineEntry } from './deadline-queue.js';

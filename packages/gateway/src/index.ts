// @ambrosia/gateway: the stateless edge of an Ambrosia cluster. The client edge (c2s), the
// gateway side of the service channel (services), and the Gateway that composes them.
export type * from './contracts.js';
export * from './c2s/index.js';
export * from './services/index.js';
export * from './protection/index.js';
export { Gateway, type GatewayOptions, type GatewayPorts, type GatewayStartResult, type GatewayStats, type GatewayLifecycle } from './gateway.js';

// The gateway side of the service channel: see README.md in this folder.
export { DEFAULT_HUB_RESUME_TIMEOUT_MS, ServiceHub, type ServiceHubChannelOptions, type ServiceHubOptions, type ServiceHubStats, type ServiceHubTls } from './hub.js';
export { DEFAULT_SERVICE_HUB_LIMITS, DEFAULT_SERVICE_PORT, type ServiceHubLimits } from './limits.js';
export type { HubLogLevel, HubLogger } from './logger.js';
export { hashString, pickByRendezvous, rendezvousScore, type RendezvousCandidate, type StringHash } from './rendezvous.js';

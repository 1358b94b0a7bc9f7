// @ambrosia/edge-limits: the limits a gateway puts on what the network sends it, as pure code
// with an injected clock (plus one socket helper). See README.md.
export { TokenBucket } from './token-bucket.js';
export type { TokenBucketOptions } from './token-bucket.js';
export { shapeSocket, SocketShaper } from './shape-socket.js';
export type { ShapeableSocket, ShapeSocketOptions } from './shape-socket.js';
export { PerKeyLimiter } from './per-key-limiter.js';
export type { AcquireResult, Lease, PerKeyLimiterOptions } from './per-key-limiter.js';
export { RateWindow } from './rate-window.js';
export type { RateDecision, RateWindowOptions } from './rate-window.js';
export { StanzaRateGuard, DEFAULT_STANZA_RATE } from './stanza-rate-guard.js';
export type { StanzaRateGuardOptions, StanzaVerdict } from './stanza-rate-guard.js';
export { addressKey } from './address-key.js';
export type { AddressKeyOptions } from './address-key.js';
export { ManualClock, systemClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';

// @ambrosia/redis-connection: the one Redis connection layer of the storage adapters
// (registry-redis, im-store-redis): the URL forms and the ioredis client for standalone,
// Sentinel and Cluster, with the failure behaviour they share. README.md has the limits.

export {
  parseRedisUrl,
  redactRedisUrl,
  DEFAULT_REDIS_PORT,
  DEFAULT_SENTINEL_PORT,
  MAX_REDIS_URL_HOSTS,
  type RedisTopology,
  type HostPort,
  type RedisCredentials,
} from './url.js';
export {
  createRedisConnection,
  isCluster,
  reconnectDelay,
  CONNECTION_DEFAULTS,
  type RedisConnection,
  type RedisConnectionOptions,
  type RedisConnectionSettings,
} from './connection.js';
export { waitUntilReady } from './ready.js';
export { classifyRedisError, type RedisFailure } from './failures.js';
export { defineScripts, LUA_PRELUDE, type ScriptDefinition, type ScriptCaller } from './scripts.js';
export {
  RedisUrlError,
  RedisNotReadyError,
  isRedisUrlError,
  isRedisNotReadyError,
  errorMessage,
  type RedisConnectionErrorCode,
} from './errors.js';

// @ambrosia/im-store-redis: the IM store on Redis (standalone, Sentinel, Cluster), connected through
// @ambrosia/redis-connection.
// packages/im-store/README.md describes the data model, the key layout and every bound.

export { createRedisImStore, toImStoreError, type RedisImStoreOptions } from './store.js';
// The URL forms live in @ambrosia/redis-connection (bad URLs throw its REDIS_URL_INVALID;
// createRedisImStore maps them to IM_STORE_INVALID_ARGUMENT).
export { parseRedisUrl, type RedisTopology, type HostPort } from '@ambrosia/redis-connection';
export { accountKeys, encodeKeyPart, decodeKeyPart, DEFAULT_PREFIX, META_FIELDS, type AccountKeys } from './keys.js';

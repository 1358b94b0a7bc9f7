// @ambrosia/im-store-redis: the IM store on Redis (standalone, Sentinel, Cluster) through ioredis.
// packages/im-store/README.md describes the data model, the key layout and every bound.

export { createRedisImStore, toImStoreError, type RedisImStoreOptions } from './store.js';
export { parseRedisUrl, type RedisTopology, type HostPort } from './url.js';
export { accountKeys, encodeKeyPart, decodeKeyPart, DEFAULT_PREFIX, META_FIELDS, type AccountKeys } from './keys.js';

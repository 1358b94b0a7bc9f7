// @ambrosia/registry-redis: the registry on Redis (standalone, Sentinel, Cluster), connected through
// @ambrosia/redis-connection.
// docs/registry.md describes the key layout, each key's lifetime and the failure behaviour.

import { createRegistry, type Registry, type RegistryOptions } from '@ambrosia/registry';
import { RedisBackend, type RedisBackendOptions } from './backend.js';

export interface RedisRegistryOptions extends RegistryOptions, RedisBackendOptions {}

/**
 * A registry node on Redis. `url` is one of
 * `redis://[user:password@]host:port[/db]`, `rediss://...` (TLS),
 * `redis-sentinel://h1:p1,h2:p2,h3:p3/masterName`, `redis-cluster://h1:p1,h2:p2,h3:p3`.
 * It connects in the background; `await registry.ready()` before routing on it.
 */
export function createRedisRegistry(options: RedisRegistryOptions): Registry {
  const { url, prefix, commandTimeoutMs, connectTimeoutMs, reconnectBackoff, tls, connectionName, ...registryOptions } = options;
  const backend = new RedisBackend({
    url,
    ...(prefix !== undefined ? { prefix } : {}),
    ...(commandTimeoutMs !== undefined ? { commandTimeoutMs } : {}),
    ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
    ...(reconnectBackoff !== undefined ? { reconnectBackoff } : {}),
    ...(tls !== undefined ? { tls } : {}),
    ...(connectionName !== undefined ? { connectionName } : {}),
  });
  return createRegistry(backend, registryOptions);
}

export { RedisBackend, type RedisBackendOptions } from './backend.js';
// The URL forms live in @ambrosia/redis-connection (bad URLs throw its REDIS_URL_INVALID; the
// registry's own constructor maps them to REGISTRY_INVALID_ARGUMENT).
export { parseRedisUrl, type RedisTopology, type HostPort } from '@ambrosia/redis-connection';
export { keyLayout, encodeKeyPart, decodeKeyPart, type KeyLayout } from './keys.js';

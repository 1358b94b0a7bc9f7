import { registryComplianceSuite } from '@ambrosia/registry/compliance';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import { startCluster, stopAll, type RedisCluster } from '@ambrosia/testing-redis';
import { afterAll, beforeAll } from 'vitest';

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startCluster({ primaries: 3 });
});
afterAll(() => stopAll());

registryComplianceSuite('redis cluster (3 primaries)', async () => {
  const registry = createRedisRegistry({ url: cluster.url, prefix: 'compliance', heartbeatIntervalMs: 100 });
  return { registry, cleanup: () => registry.close() };
});

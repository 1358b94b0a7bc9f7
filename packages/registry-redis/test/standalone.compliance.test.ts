import { registryComplianceSuite } from '@ambrosia/registry/compliance';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import { startRedis, stopAll, type RedisServer } from '@ambrosia/testing-redis';
import { afterAll, beforeAll } from 'vitest';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(() => stopAll());

registryComplianceSuite('redis standalone', async () => {
  // One prefix for the file: every call is another node of the same cluster.
  const registry = createRedisRegistry({ url: server.url, prefix: 'compliance', heartbeatIntervalMs: 100 });
  return { registry, cleanup: () => registry.close() };
});

import { imStoreComplianceSuite } from '@ambrosia/im-store/compliance';
import { createRedisImStore } from '@ambrosia/im-store-redis';
import { startCluster, stopAll, type RedisCluster } from '@ambrosia/testing-redis';
import { afterAll, beforeAll } from 'vitest';

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startCluster({ primaries: 3 });
});
afterAll(() => stopAll());

imStoreComplianceSuite('redis cluster (3 primaries)', async (limits) => {
  const store = await createRedisImStore({ ...limits, url: cluster.url, prefix: 'compliance:' });
  return { store, cleanup: () => store.close() };
});

import { imStoreComplianceSuite } from '@ambrosia/im-store/compliance';
import { createRedisImStore } from '@ambrosia/im-store-redis';
import { startRedis, stopAll, type RedisServer } from '@ambrosia/testing-redis';
import { afterAll, beforeAll } from 'vitest';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(() => stopAll());

// One prefix for the file: every factory call is another IM service instance on the same data.
imStoreComplianceSuite('redis standalone', async (limits) => {
  const store = await createRedisImStore({ ...limits, url: server.url, prefix: 'compliance:' });
  return { store, cleanup: () => store.close() };
});

import { imStoreComplianceSuite } from '@ambrosia/im-store/compliance';
import { createRedisImStore } from '@ambrosia/im-store-redis';
import { startSentinelGroup, stopAll, type SentinelGroup } from '@ambrosia/testing-redis';
import { afterAll, beforeAll } from 'vitest';

// Through the Sentinels (redis-sentinel://...): the client asks them for the primary.
let group: SentinelGroup;
beforeAll(async () => {
  group = await startSentinelGroup();
});
afterAll(() => stopAll());

imStoreComplianceSuite('redis sentinel', async (limits) => {
  const store = await createRedisImStore({ ...limits, url: group.url, prefix: 'compliance:' });
  return { store, cleanup: () => store.close() };
});

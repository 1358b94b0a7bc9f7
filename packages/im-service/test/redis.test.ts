// The same RFC 6121 scenarios on a real redis-server (the store every deployment runs).
import { createRedisImStore } from '@ambrosia/im-store-redis';
import { startRedis, stopAll, type RedisServer } from '@ambrosia/testing-redis';
import { afterAll } from 'vitest';
import { imScenarios } from './scenarios.js';

let server: RedisServer | undefined;
afterAll(() => stopAll());

imScenarios('redis store', async () => {
  server ??= await startRedis();
  const store = await createRedisImStore({ url: server.url, prefix: 'im-service-test:' });
  return { store, cleanup: () => store.close() };
});

import { registryComplianceSuite } from '@ambrosia/registry/compliance';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import { startSentinelGroup, stopAll, type SentinelGroup } from '@ambrosia/testing-redis';
import { afterAll, beforeAll, expect } from 'vitest';

let group: SentinelGroup;
let calls = 0;
let failedOver = false;
/** The suite makes about 70 nodes; the primary changes under it after about half of them. */
const FAILOVER_AT_CALL = 35;

beforeAll(async () => {
  group = await startSentinelGroup();
});
afterAll(async () => {
  // The failover must actually have happened in the middle of the suite.
  expect(failedOver).toBe(true);
  await stopAll();
});

registryComplianceSuite('redis sentinel (failover mid-suite)', async () => {
  calls += 1;
  if (calls === FAILOVER_AT_CALL) {
    const before = group.primary.port;
    const { newPrimaryPort } = await group.failover();
    expect(newPrimaryPort).not.toBe(before);
    failedOver = true;
  }
  const registry = createRedisRegistry({ url: group.url, prefix: 'compliance', heartbeatIntervalMs: 100 });
  return { registry, cleanup: () => registry.close() };
});

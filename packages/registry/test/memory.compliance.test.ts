import { MemoryStore, createMemoryRegistry } from '@ambrosia/registry';
import { registryComplianceSuite } from '@ambrosia/registry/compliance';

// One store for the whole suite: every factory call is another node of the same "cluster".
const store = new MemoryStore();

registryComplianceSuite('memory', async () => {
  const registry = createMemoryRegistry({ store, heartbeatIntervalMs: 100 });
  return { registry, cleanup: () => registry.close() };
});

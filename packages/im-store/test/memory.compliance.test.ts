import { createMemoryImStore, MemoryImStoreData } from '@ambrosia/im-store';
import { imStoreComplianceSuite } from '@ambrosia/im-store/compliance';

// One data set for the whole suite: every factory call is another IM service instance on it.
const data = new MemoryImStoreData();

imStoreComplianceSuite('memory', async (limits) => {
  const store = createMemoryImStore({ ...limits, data });
  return { store, cleanup: () => store.close() };
});

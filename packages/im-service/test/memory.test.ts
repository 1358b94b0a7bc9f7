import { createMemoryImStore } from '@ambrosia/im-store';
import { imScenarios } from './scenarios.js';

imScenarios('memory store', async () => {
  const store = createMemoryImStore();
  return { store, cleanup: () => store.close() };
});

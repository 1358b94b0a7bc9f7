// Assertions the im-store test files share.
import { isImStoreError, type ImStoreErrorCode } from '@ambrosia/im-store';
import { expect } from 'vitest';

/** `run` throws an ImStoreError with `code` synchronously (argument checks happen before any await). */
export function expectCode(run: () => unknown, code: ImStoreErrorCode): void {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(isImStoreError(error), String(error)).toBe(true);
  expect((error as { code: string }).code).toBe(code);
}

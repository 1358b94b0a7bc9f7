// The read-modify-write loop every implementation's `roster.update` runs over its own
// getContact + compareAndSet. The RFC 6121 state machine stays in the service (the updater); the
// store only guarantees that a decision made on a stale read is never written.

import { invalidArgument } from './errors.js';
import type { ContactChange, ContactState, RosterUpdateOptions, RosterUpdateResult, RosterWriteResult } from './types.js';

export const DEFAULT_UPDATE_ATTEMPTS = 32;
/** Upper bound of the jittered pause between attempts: enough for the other writer to finish. */
const MAX_BACKOFF_MS = 20;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runContactUpdate(
  read: () => Promise<ContactState>,
  write: (revision: string, change: ContactChange) => Promise<RosterWriteResult>,
  updater: (current: ContactState) => ContactChange | undefined | Promise<ContactChange | undefined>,
  options: RosterUpdateOptions = {},
): Promise<RosterUpdateResult> {
  if (typeof updater !== 'function') throw invalidArgument('updater must be a function');
  const maxAttempts = options.maxAttempts ?? DEFAULT_UPDATE_ATTEMPTS;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw invalidArgument('maxAttempts must be a positive integer');
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    if (attempt > 0) await sleep(Math.random() * Math.min(MAX_BACKOFF_MS, 2 ** attempt));
    const previous = await read();
    const change = await updater(previous);
    if (change === undefined) return { ok: true, previous, contact: previous, itemChanged: false, version: previous.rosterVersion };
    const result = await write(previous.revision, change);
    if (result.ok) return { ...result, previous };
    if (result.reason !== 'conflict') return result;
  }
  return { ok: false, reason: 'conflict' };
}

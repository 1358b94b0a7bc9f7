// Waiting for a lazily connecting client to become usable, bounded in time: the adapters'
// `connect()` / `ready()` and their first subscription go through here.

import type { RedisConnection } from './connection.js';
import { errorMessage, RedisNotReadyError } from './errors.js';

/**
 * Resolves once the connection is ready (at once if it already is), starting it if nobody has;
 * rejects with RedisNotReadyError (REDIS_NOT_READY) after `timeoutMs`, carrying the last error the
 * connection reported during the wait. Reconnection goes on in the background either way.
 */
export function waitUntilReady(connection: RedisConnection, timeoutMs: number): Promise<void> {
  if (connection.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let lastError: string | undefined;
    const onError = (e: unknown) => {
      lastError = errorMessage(e);
    };
    const onReady = () => {
      cleanup();
      resolve();
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new RedisNotReadyError(timeoutMs, lastError));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      connection.off('ready', onReady);
      connection.off('error', onError);
    };
    connection.on('ready', onReady);
    connection.on('error', onError);
    // Failures surface as 'error' events and the retry strategy keeps trying; the rejection
    // of connect() itself carries nothing more.
    if (connection.status === 'wait') connection.connect().catch(() => {});
  });
}

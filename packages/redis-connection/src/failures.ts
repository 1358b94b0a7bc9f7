// What a failed command means for the caller, independent of any adapter's error codes: each
// adapter maps these kinds onto its own (REGISTRY_UNAVAILABLE, IM_STORE_READONLY...).

import { errorMessage, isRedisUrlError } from './errors.js';

export type RedisFailure =
  /** The URL was refused (RedisUrlError): a configuration mistake, never worth retrying. */
  | 'invalid-url'
  /** READONLY: a demoted primary or a replica refused a write; it was not applied. */
  | 'readonly'
  /** Redis answered "no" (script error, WRONGTYPE, NOSCRIPT...): retrying will not help. */
  | 'rejected'
  /** The transport: closed, not writable, timed out, refused, no primary known, or a reply that means "not now". */
  | 'unavailable';

/** Reply errors that mean "not now" rather than "no": the write was not applied, try later. */
const TRANSIENT_REPLY = /^(LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|NOREPLICAS)\b/;

export function classifyRedisError(e: unknown): RedisFailure {
  if (isRedisUrlError(e)) return 'invalid-url';
  const message = errorMessage(e);
  if (message.startsWith('READONLY')) return 'readonly';
  const name = (e as { name?: unknown } | null)?.name;
  if (name === 'ReplyError' && !TRANSIENT_REPLY.test(message)) return 'rejected';
  return 'unavailable';
}

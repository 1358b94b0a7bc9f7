// The errors of this package. They cross package boundaries by `code`, never by `instanceof`
// (docs/ARCHITECTURE.md, "Errors"): two installed copies would not recognise each other's classes.
// Each storage adapter maps them onto its own codes (REGISTRY_INVALID_ARGUMENT,
// IM_STORE_UNAVAILABLE...); this package never knows which adapter it serves.

export type RedisConnectionErrorCode =
  /** The URL is not one of the four forms, or one of its parts is out of range. */
  | 'REDIS_URL_INVALID'
  /** No usable connection within the wait's time limit (Redis down, unreachable, no primary). */
  | 'REDIS_NOT_READY';

/** A bad Redis URL. A RangeError: the value given is outside the accepted forms. */
export class RedisUrlError extends RangeError {
  override readonly name = 'RedisUrlError';
  readonly code = 'REDIS_URL_INVALID' as const;
}

/** No connection became ready in time. `lastError` is what the connection last reported, if anything. */
export class RedisNotReadyError extends Error {
  override readonly name = 'RedisNotReadyError';
  readonly code = 'REDIS_NOT_READY' as const;
  readonly lastError: string | undefined;

  constructor(timeoutMs: number, lastError: string | undefined) {
    super(`no connection to Redis within ${timeoutMs} ms${lastError ? `: ${lastError}` : ''}`);
    this.lastError = lastError;
  }
}

function hasCode(e: unknown, code: RedisConnectionErrorCode): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/** True for a bad-URL error of this package, whichever installed copy made it. */
export function isRedisUrlError(e: unknown): e is RedisUrlError {
  return hasCode(e, 'REDIS_URL_INVALID');
}

/** True for a ready-wait timeout of this package, whichever installed copy made it. */
export function isRedisNotReadyError(e: unknown): e is RedisNotReadyError {
  return hasCode(e, 'REDIS_NOT_READY');
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

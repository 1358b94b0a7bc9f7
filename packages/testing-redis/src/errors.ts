/**
 * Errors of this package. They cross package boundaries by `code`, never by `instanceof`
 * (docs/ARCHITECTURE.md, "Errors"): two installed copies would not recognise each other's classes.
 */

export type TestingRedisErrorCode =
  /** `redis-server` (or a sibling program) is not on PATH; the message names the Debian package. */
  | 'ERR_REDIS_BINARY_MISSING'
  /** The installed Redis is too old for the requested topology. */
  | 'ERR_REDIS_VERSION'
  /** The process exited or failed before it answered PING; the message carries the log's tail. */
  | 'ERR_REDIS_START_FAILED'
  /** The requested port is taken by another process. */
  | 'ERR_REDIS_PORT_IN_USE'
  /** A bounded wait (readiness, replication, failover, cluster convergence) ran out of time. */
  | 'ERR_REDIS_TIMEOUT'
  /** The server was stopped for good (its directory is gone); it cannot be restarted. */
  | 'ERR_REDIS_STOPPED'
  /** Redis answered a command with an error reply (`-ERR ...`, `-LOADING ...`). */
  | 'ERR_REDIS_REPLY'
  /** The bytes on the wire are not RESP2, or a reply exceeded the client's bounds. */
  | 'ERR_REDIS_PROTOCOL'
  /** The administrative connection failed (refused, reset) or a command timed out. */
  | 'ERR_REDIS_CONNECTION'
  /** A caller passed an option this package refuses (port 6379, zero primaries...). */
  | 'ERR_REDIS_INVALID_OPTION';

export class TestingRedisError extends Error {
  override readonly name = 'TestingRedisError';
  readonly code: TestingRedisErrorCode;

  constructor(code: TestingRedisErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** An error reply from Redis. `prefix` is its first word (`ERR`, `LOADING`, `READONLY`, `NOGOODSLAVE`...). */
export class RedisReplyError extends TestingRedisError {
  readonly prefix: string;

  constructor(message: string) {
    super('ERR_REDIS_REPLY', message);
    const space = message.indexOf(' ');
    this.prefix = space === -1 ? message : message.slice(0, space);
  }
}

/** True for any error of this package carrying `code`, whichever copy of the package made it. */
export function hasCode(error: unknown, code: TestingRedisErrorCode): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

/** The first word of a Redis error reply, or undefined when `error` is not one. */
export function replyPrefix(error: unknown): string | undefined {
  if (!hasCode(error, 'ERR_REDIS_REPLY')) return undefined;
  const prefix = (error as { prefix?: unknown }).prefix;
  return typeof prefix === 'string' ? prefix : undefined;
}

// Every error the registry throws, with a stable code. Identity is by `code` (see isRegistryError),
// never by instanceof: two installed copies of this package must recognise each other's errors.

export const REGISTRY_ERROR_CODES = {
  /** The store cannot be reached (down, reconnecting, timed out): the write was not applied. */
  REGISTRY_UNAVAILABLE: 'the registry store is unreachable',
  /** The store answered READONLY (a demoted primary): the write was not applied. */
  REGISTRY_READONLY: 'the registry store is read-only (a demoted primary)',
  /** The routing snapshot is older than the staleness limit or was never loaded. */
  REGISTRY_STALE: 'the registry snapshot is too old to route on',
  /** Too many operations in flight, or an owned-record limit reached: nothing was queued. */
  REGISTRY_OVERLOADED: 'the registry is at a configured limit',
  /** The caller tried to act for a gateway this registry did not announce. */
  REGISTRY_NOT_OWNER: 'this registry does not own that record',
  /** The record an operation needs is not (or no longer) live, e.g. a service instance without a membership. */
  REGISTRY_NOT_FOUND: 'no such live record',
  REGISTRY_INVALID_ARGUMENT: 'invalid argument',
  /** Stored data could not be decoded (written by a foreign or newer writer). */
  REGISTRY_CORRUPT: 'unreadable data in the registry store',
  /** Used after close(). */
  REGISTRY_CLOSED: 'the registry is closed',
  /** Any other error the store reported. */
  REGISTRY_BACKEND_ERROR: 'the registry store reported an error',
} as const;

export type RegistryErrorCode = keyof typeof REGISTRY_ERROR_CODES;

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  readonly registryError = true;
  readonly code: RegistryErrorCode;
  /** True when retrying later may succeed (the store is down, read-only or overloaded). */
  readonly retryable: boolean;

  constructor(code: RegistryErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${code}: ${detail}` : `${code}: ${REGISTRY_ERROR_CODES[code]}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = code === 'REGISTRY_UNAVAILABLE' || code === 'REGISTRY_READONLY' || code === 'REGISTRY_OVERLOADED' || code === 'REGISTRY_STALE';
  }
}

export function isRegistryError(e: unknown, code?: RegistryErrorCode): e is RegistryError {
  if (typeof e !== 'object' || e === null || (e as { registryError?: unknown }).registryError !== true) return false;
  return code === undefined || (e as { code?: unknown }).code === code;
}

export function invalidArgument(detail: string): RegistryError {
  return new RegistryError('REGISTRY_INVALID_ARGUMENT', detail);
}

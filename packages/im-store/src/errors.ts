// Every error an IM store throws, with a stable code. Expected outcomes (a full queue, a refused
// size, a lost compare-and-set) are results, never errors: an error means a programming mistake,
// an unreachable store or unreadable data. Identity is by `code` (see isImStoreError), never by
// instanceof: two installed copies of this package must recognise each other's errors.

export const IM_STORE_ERROR_CODES = {
  /** The caller passed something no store accepts (wrong type, empty or oversized JID, bad id). */
  IM_STORE_INVALID_ARGUMENT: 'invalid argument',
  /** The backing store cannot be reached (down, reconnecting, timed out): the write was not applied. */
  IM_STORE_UNAVAILABLE: 'the IM store is unreachable',
  /** The backing store answered READONLY (a demoted primary): the write was not applied. */
  IM_STORE_READONLY: 'the IM store is read-only (a demoted primary)',
  /** Stored data could not be decoded (written by a foreign or newer writer). */
  IM_STORE_CORRUPT: 'unreadable data in the IM store',
  /** Used after close(). */
  IM_STORE_CLOSED: 'the IM store is closed',
  /** Any other error the backing store reported. */
  IM_STORE_BACKEND_ERROR: 'the IM store backend reported an error',
} as const;

export type ImStoreErrorCode = keyof typeof IM_STORE_ERROR_CODES;

export class ImStoreError extends Error {
  override readonly name = 'ImStoreError';
  readonly imStoreError = true;
  readonly code: ImStoreErrorCode;
  /** True when retrying later may succeed (the store is down or read-only). */
  readonly retryable: boolean;

  constructor(code: ImStoreErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${code}: ${detail}` : `${code}: ${IM_STORE_ERROR_CODES[code]}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = code === 'IM_STORE_UNAVAILABLE' || code === 'IM_STORE_READONLY';
  }
}

export function isImStoreError(e: unknown, code?: ImStoreErrorCode): e is ImStoreError {
  if (typeof e !== 'object' || e === null || (e as { imStoreError?: unknown }).imStoreError !== true) return false;
  return code === undefined || (e as { code?: unknown }).code === code;
}

export function invalidArgument(detail: string): ImStoreError {
  return new ImStoreError('IM_STORE_INVALID_ARGUMENT', detail);
}

export function corrupt(detail: string, cause?: unknown): ImStoreError {
  return new ImStoreError('IM_STORE_CORRUPT', detail, cause === undefined ? undefined : { cause });
}

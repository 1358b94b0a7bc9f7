// Errors thrown by the credential helpers (never by an exchange: exchanges end in a failure
// step). Branded with a stable `code` so callers need no `instanceof` across package copies.

export type SaslErrorCode =
  | 'ERR_SASL_INVALID_PASSWORD'
  | 'ERR_SASL_INVALID_ITERATIONS'
  | 'ERR_SASL_INVALID_HASHES'
  | 'ERR_SASL_INVALID_OPTION';

export class SaslError extends Error {
  override readonly name = 'SaslError';
  readonly code: SaslErrorCode;
  constructor(code: SaslErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function isSaslError(value: unknown): value is SaslError {
  if (!(value instanceof Error)) return false;
  const code: unknown = (value as Error & { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_SASL_');
}

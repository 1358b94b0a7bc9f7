// Errors of the user-management functions, with stable codes the CLI maps to messages and
// exit codes. Branded by `code`, so no `instanceof` is needed across package copies.

export type AuthErrorCode =
  | 'ERR_AUTH_USER_EXISTS'
  | 'ERR_AUTH_USER_NOT_FOUND'
  | 'ERR_AUTH_INVALID_USERNAME'
  | 'ERR_AUTH_INVALID_DOMAIN'
  | 'ERR_AUTH_INVALID_PASSWORD'
  | 'ERR_AUTH_INVALID_OPTION';

export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly code: AuthErrorCode;
  constructor(code: AuthErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isAuthError(value: unknown): value is AuthError {
  if (!(value instanceof Error)) return false;
  const code: unknown = (value as Error & { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_AUTH_');
}

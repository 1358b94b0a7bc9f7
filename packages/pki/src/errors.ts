/** Stable codes for everything this package throws; match on `code`, never on `instanceof`. */
export type PkiErrorCode =
  /** A caller-supplied option is out of range or malformed (a name, a validity, a permission). */
  | 'PKI_INVALID_ARGUMENT'
  /** DER or PEM input that does not have the structure RFC 5280 requires. */
  | 'PKI_MALFORMED_CERTIFICATE'
  /** The CA certificate and key do not belong together, or the certificate is not a CA. */
  | 'PKI_INVALID_CA'
  /** Issuing would produce a certificate the CA cannot vouch for (expired CA, validity beyond the CA's). */
  | 'PKI_CA_VALIDITY'
  /** A file that must not be overwritten already exists. */
  | 'PKI_FILE_EXISTS'
  /** A service-channel peer presented a valid certificate without the role the other side requires. */
  | 'PKI_WRONG_PEER_ROLE';

export class PkiError extends Error {
  override readonly name = 'PkiError';
  readonly code: PkiErrorCode;

  constructor(code: PkiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Recognises errors from any installed copy of this package. */
export function isPkiError(error: unknown): error is PkiError {
  return error instanceof Error && error.name === 'PkiError' && typeof (error as { code?: unknown }).code === 'string';
}

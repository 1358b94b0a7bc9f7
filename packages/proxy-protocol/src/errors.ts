/**
 * Errors of the PROXY protocol layer. Each carries a stable `code` (for logs, tests and the
 * gateway's decisions) and a coarse `kind`; cross-package checks use {@link isProxyProtocolError},
 * never `instanceof`.
 */

/** Stable error codes. New codes may be added; existing ones never change meaning. */
export const ProxyErrorCode = {
  /** Bytes that do not follow the specification (bad signature, address, port, TLV bounds...). */
  MALFORMED: 'PROXY_MALFORMED',
  /** v1 line without CRLF in 107 bytes, or v2 header longer than the configured maximum. */
  TOO_LONG: 'PROXY_TOO_LONG',
  /** Well-formed but not accepted here: v2 version other than 2, unassigned command/family/protocol. */
  UNSUPPORTED: 'PROXY_UNSUPPORTED',
  /** The PP2_TYPE_CRC32C TLV does not match the header (proxy-protocol.txt §2.2.3). */
  CHECKSUM: 'PROXY_CHECKSUM',
  /** The header did not complete within the deadline. */
  TIMEOUT: 'PROXY_TIMEOUT',
  /** A peer outside the trusted proxies sent a PROXY header. */
  UNTRUSTED: 'PROXY_UNTRUSTED',
  /** A trusted proxy connected without a header while one is required. */
  MISSING: 'PROXY_MISSING',
  /** The connection ended or failed before the header completed. */
  CLOSED: 'PROXY_CLOSED',
} as const;

export type ProxyErrorCodeValue = (typeof ProxyErrorCode)[keyof typeof ProxyErrorCode];

export class ProxyProtocolError extends Error {
  readonly code: ProxyErrorCodeValue;
  /** Brand for {@link isProxyProtocolError}: works across duplicated installs where instanceof fails. */
  readonly isProxyProtocolError = true;

  constructor(code: ProxyErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProxyProtocolError';
    this.code = code;
  }
}

export function isProxyProtocolError(e: unknown): e is ProxyProtocolError {
  return (
    typeof e === 'object' &&
    e !== null &&
    (e as { isProxyProtocolError?: unknown }).isProxyProtocolError === true &&
    typeof (e as { code?: unknown }).code === 'string'
  );
}

export const malformed = (message: string): ProxyProtocolError => new ProxyProtocolError(ProxyErrorCode.MALFORMED, message);

/**
 * Errors raised by the XML layer. Each carries a stable `code` (for logs and tests) and the
 * RFC 6120 §4.9.3 stream error `condition` a gateway sends before closing the stream.
 */

/** The stream error conditions (RFC 6120 §4.9.3) that XML parsing can produce. */
export type XmlErrorCondition =
  | 'not-well-formed' // §4.9.3.13: violates XML 1.0 or Namespaces in XML well-formedness
  | 'restricted-xml' // §4.9.3.18: comments, PIs, DTDs, entity references (§11.1)
  | 'policy-violation' // §4.9.3.14: a local limit (size, depth, count) was exceeded
  | 'bad-namespace-prefix' // §4.9.3.2: unbound or reserved prefix misused
  | 'unsupported-encoding' // §4.9.3.22: anything but UTF-8 (§11.6)
  | 'unsupported-version'; // §4.9.3.25: an XML version other than 1.0 (§11.8)

/** Stable error codes. New codes may be added; existing ones never change meaning. */
export const XmlErrorCode = {
  NOT_WELL_FORMED: 'XML_NOT_WELL_FORMED',
  INVALID_UTF8: 'XML_INVALID_UTF8',
  INVALID_CHAR: 'XML_INVALID_CHAR',
  MISMATCHED_TAG: 'XML_MISMATCHED_TAG',
  DUPLICATE_ATTRIBUTE: 'XML_DUPLICATE_ATTRIBUTE',
  TEXT_OUTSIDE_STANZA: 'XML_TEXT_OUTSIDE_STANZA',
  TRAILING_CONTENT: 'XML_TRAILING_CONTENT',
  TRUNCATED: 'XML_TRUNCATED',
  RESTRICTED: 'XML_RESTRICTED',
  UNBOUND_PREFIX: 'XML_UNBOUND_PREFIX',
  BAD_NAMESPACE_DECLARATION: 'XML_BAD_NAMESPACE_DECLARATION',
  UNSUPPORTED_ENCODING: 'XML_UNSUPPORTED_ENCODING',
  UNSUPPORTED_VERSION: 'XML_UNSUPPORTED_VERSION',
  LIMIT_STANZA_BYTES: 'XML_LIMIT_STANZA_BYTES',
  LIMIT_HEADER_BYTES: 'XML_LIMIT_HEADER_BYTES',
  LIMIT_DEPTH: 'XML_LIMIT_DEPTH',
  LIMIT_ATTRIBUTES: 'XML_LIMIT_ATTRIBUTES',
  LIMIT_NAME_LENGTH: 'XML_LIMIT_NAME_LENGTH',
  LIMIT_TEXT_LENGTH: 'XML_LIMIT_TEXT_LENGTH',
  /** A defect in this package surfaced as an error instead of an exception out of write(). */
  INTERNAL: 'XML_INTERNAL',
} as const;

export type XmlErrorCodeValue = (typeof XmlErrorCode)[keyof typeof XmlErrorCode];

export class XmlStreamError extends Error {
  readonly code: string;
  readonly condition: XmlErrorCondition;
  /** Brand for {@link isXmlStreamError}: works across duplicated installs where instanceof fails. */
  readonly isXmlStreamError = true;

  constructor(code: string, condition: XmlErrorCondition, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'XmlStreamError';
    this.code = code;
    this.condition = condition;
  }
}

export function isXmlStreamError(e: unknown): e is XmlStreamError {
  return (
    typeof e === 'object' &&
    e !== null &&
    (e as { isXmlStreamError?: unknown }).isXmlStreamError === true &&
    typeof (e as { code?: unknown }).code === 'string' &&
    typeof (e as { condition?: unknown }).condition === 'string'
  );
}

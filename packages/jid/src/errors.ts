// Every JID failure is one JidError with a stable `code`, the XMPP condition it maps to
// (RFC 6120 §8.3.3.8 <jid-malformed/>), the part at fault and a finer `reason`.
// Messages never echo the rejected input (it is peer-controlled); they name code points as U+XXXX.

export type JidPart = 'local' | 'domain' | 'resource' | 'whole';

export type JidErrorCode =
  /** The input is not a string. */
  | 'JID_NOT_A_STRING'
  /** The JID, or a part whose separator is present ("@example.com", "example.com/"), is empty. */
  | 'JID_EMPTY'
  /** A part exceeds 1023 octets (RFC 7622 §3.2–3.4) or a DNS limit (63-octet label, 253-octet name). */
  | 'JID_TOO_LONG'
  /** The localpart violates PRECIS UsernameCaseMapped (RFC 8265 §3.3) or RFC 7622 §3.3.1. */
  | 'JID_LOCALPART_INVALID'
  /** The domainpart is neither an IP literal nor a sequence of NR-LDH labels and U-labels (RFC 7622 §3.2). */
  | 'JID_DOMAINPART_INVALID'
  /** The resourcepart violates PRECIS OpaqueString (RFC 8265 §4.2). */
  | 'JID_RESOURCEPART_INVALID';

export type JidErrorReason =
  | 'not-a-string'
  | 'empty'
  | 'too-long'
  | 'label-too-long'
  | 'domain-too-long'
  /** A code point the string class disallows (RFC 8264 §9, RFC 5892 §3). */
  | 'disallowed-code-point'
  /** A code point unassigned in the Unicode version in use (RFC 8264 §9.4). */
  | 'unassigned-code-point'
  /** A CONTEXTJ/CONTEXTO code point whose rule (RFC 5892 Appendix A) fails. */
  | 'context-rule'
  /** The Bidi Rule of RFC 5893 §2 fails. */
  | 'bidi-rule'
  /** One of the characters RFC 7622 §3.3.1 forbids in localparts: " & ' / : < > @ */
  | 'forbidden-character'
  /** Mapping the prepared string again would change it (RFC 8264 §7 idempotence). */
  | 'unstable'
  /** A label starts or ends with "-", or has "--" in positions 3 and 4 (RFC 5891 §4.2.3.1). */
  | 'hyphen'
  /** A U-label starts with a combining mark (RFC 5891 §4.2.3.2). */
  | 'leading-combining-mark'
  | 'empty-label'
  /** An "xn--" label that does not decode to a valid U-label, or does not round-trip (RFC 5891 §5.3). */
  | 'invalid-a-label'
  /** A bracketed literal that is not an IPv6 address or IPvFuture (RFC 3986 §3.2.2). */
  | 'ip-literal'
  /** All-numeric final label that is not a dotted-quad IPv4 address. */
  | 'numeric-tld';

const CODES = new Set<string>([
  'JID_NOT_A_STRING',
  'JID_EMPTY',
  'JID_TOO_LONG',
  'JID_LOCALPART_INVALID',
  'JID_DOMAINPART_INVALID',
  'JID_RESOURCEPART_INVALID',
]);

export class JidError extends Error {
  override readonly name = 'JidError';
  readonly code: JidErrorCode;
  /** RFC 6120 §8.3.3.8: the stanza error condition for a malformed address. */
  readonly condition = 'jid-malformed' as const;
  readonly part: JidPart;
  readonly reason: JidErrorReason;
  /** The offending code point, when one is to blame. */
  readonly codePoint: number | undefined;
  /** Brand checked by isJidError: instanceof fails across two installed copies of this package. */
  readonly isJidError = true as const;

  constructor(code: JidErrorCode, part: JidPart, reason: JidErrorReason, message: string, codePoint?: number) {
    super(message);
    this.code = code;
    this.part = part;
    this.reason = reason;
    this.codePoint = codePoint;
  }
}

export function isJidError(e: unknown): e is JidError {
  return (
    typeof e === 'object' &&
    e !== null &&
    (e as { isJidError?: unknown }).isJidError === true &&
    CODES.has((e as { code?: unknown }).code as string)
  );
}

const INVALID_CODE: Record<Exclude<JidPart, 'whole'>, JidErrorCode> = {
  local: 'JID_LOCALPART_INVALID',
  domain: 'JID_DOMAINPART_INVALID',
  resource: 'JID_RESOURCEPART_INVALID',
};

const PART_NAME: Record<JidPart, string> = {
  local: 'localpart',
  domain: 'domainpart',
  resource: 'resourcepart',
  whole: 'JID',
};

/** A part's content is invalid; `detail` explains without quoting the input. */
export function invalid(
  part: Exclude<JidPart, 'whole'>,
  reason: JidErrorReason,
  detail: string,
  codePoint?: number,
): JidError {
  return new JidError(INVALID_CODE[part], part, reason, `invalid ${PART_NAME[part]}: ${detail}`, codePoint);
}

export function empty(part: JidPart): JidError {
  return new JidError('JID_EMPTY', part, 'empty', `empty ${PART_NAME[part]}`);
}

export function tooLong(part: JidPart, reason: 'too-long' | 'label-too-long' | 'domain-too-long', detail: string): JidError {
  return new JidError('JID_TOO_LONG', part, reason, `${PART_NAME[part]} too long: ${detail}`);
}

export function notAString(part: JidPart): JidError {
  return new JidError('JID_NOT_A_STRING', part, 'not-a-string', `${PART_NAME[part]} must be a string`);
}

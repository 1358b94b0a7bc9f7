// Errors the SDK raises toward the application. Identify them by `code` (isServiceSdkError),
// never by instanceof: two installed copies of the SDK must still recognise each other's errors.

export const SERVICE_SDK_ERROR_CODES = [
  /** A send or start() after stop() began. */
  'stopped',
  /** sendToSession/route before start(). */
  'not-started',
  /** The stanza's `from` is missing, not a JID, or outside the registered domains (§4.2). */
  'invalid-from',
  /** The stanza cannot be carried (not an element, too large for the gateway). */
  'invalid-stanza',
  /** No gateway channel was open, or came up, within `reconnectWaitMs`. */
  'no-gateway',
  /** The gateway holding the stanza stayed unreachable for `reconnectWaitMs` (it may still send it later). */
  'gateway-unavailable',
  /** Too many senders already wait for a full channel to drain (`maxWaitingSenders`). */
  'queue-full',
  /** start() saw every registration refused by a gateway (certificate does not cover it). */
  'registration-refused',
  /** start() found no gateway to register with within `startTimeoutMs`. */
  'start-timeout',
  /** A handler threw or rejected (reported to onError; the stanza was acknowledged anyway). */
  'handler-failed',
  /** A stanza from a gateway was not well-formed XML (reported to onError; acknowledged, skipped). */
  'bad-inbound-stanza',
  /** A gateway link failed or a gateway refused something (reported to onError). */
  'gateway-link',
  /** Discovery through the registry failed (reported to onError; the last known gateways are kept). */
  'discovery',
] as const;
export type ServiceSdkErrorCode = (typeof SERVICE_SDK_ERROR_CODES)[number];

export class ServiceSdkError extends Error {
  override readonly name = 'ServiceSdkError';
  readonly isServiceSdkError = true as const;
  readonly code: ServiceSdkErrorCode;
  /** The gateway concerned, when there is one. */
  readonly gateway: string | undefined;

  constructor(code: ServiceSdkErrorCode, message: string, options: { cause?: unknown; gateway?: string } = {}) {
    super(`${code}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.gateway = options.gateway;
  }
}

export function isServiceSdkError(value: unknown): value is ServiceSdkError {
  return typeof value === 'object' && value !== null && (value as { isServiceSdkError?: unknown }).isServiceSdkError === true && typeof (value as { code?: unknown }).code === 'string';
}

/** Wraps whatever a handler threw into an Error for onError, keeping the original as `cause`. */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

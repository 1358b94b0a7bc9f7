// All errors of the service channel in one place, with stable codes (docs/service-protocol.md §14).

/** Codes sent in ERROR: a protocol violation ends the channel (§14.2). */
export const PROTOCOL_ERROR_CODES = [
  'unsupported-version',
  'malformed-frame',
  'frame-too-large',
  'unknown-type',
  'unexpected-message',
  'malformed-message',
  'unexpected-chunk',
  'unexpected-id',
  'message-too-large',
  'too-many-partials',
  'reassembly-timeout',
  'invalid-ack',
  'invalid-delivery',
  'flow-control',
  'ack-timeout',
  'handshake-timeout',
  'resource-constraint',
  'internal-error',
] as const;
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

/** Link failures: not sent, the channel stays resumable (§14.2). */
export const LINK_ERROR_CODES = ['heartbeat-timeout', 'write-stall', 'link-closed'] as const;
export type LinkErrorCode = (typeof LINK_ERROR_CODES)[number];

/** Errors toward the application only (§14.2). */
export const LOCAL_ERROR_CODES = ['queue-full', 'message-too-large', 'request-timeout', 'channel-reset', 'channel-closed'] as const;
export type LocalErrorCode = (typeof LOCAL_ERROR_CODES)[number];

/** Codes a REPLY may carry (§13.2); others are passed through as they come. */
export const REPLY_ERROR_CODES = ['bad-request', 'forbidden', 'not-found', 'unknown-command', 'conflict', 'unavailable', 'internal-error'] as const;
export type ReplyErrorCode = (typeof REPLY_ERROR_CODES)[number];

export type ChannelErrorCode = ProtocolErrorCode | LinkErrorCode | LocalErrorCode | ReplyErrorCode | (string & {});

const protocolCodes: ReadonlySet<string> = new Set(PROTOCOL_ERROR_CODES);
export function isProtocolErrorCode(code: string): code is ProtocolErrorCode {
  return protocolCodes.has(code);
}

export interface ChannelErrorOptions {
  /** The message id concerned, when there is one. */
  id?: number;
  /** True when the error came from the peer (ERROR frame or REPLY error). */
  fromPeer?: boolean;
  cause?: unknown;
}

/**
 * Every error this package produces. Identify by `code` and `isChannelError`, never by
 * `instanceof`: two installed copies of the package must still recognise each other's errors.
 */
export class ChannelError extends Error {
  override readonly name = 'ChannelError';
  readonly isChannelError = true as const;
  readonly code: ChannelErrorCode;
  readonly id: number | undefined;
  readonly fromPeer: boolean;

  constructor(code: ChannelErrorCode, message?: string, options: ChannelErrorOptions = {}) {
    super(message ? `${code}: ${message}` : code, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.id = options.id;
    this.fromPeer = options.fromPeer ?? false;
  }

  /** The text after the code, as sent in ERROR's `text`. */
  get text(): string | undefined {
    const prefix = `${this.code}: `;
    return this.message.startsWith(prefix) ? this.message.slice(prefix.length) : undefined;
  }
}

export function isChannelError(value: unknown): value is ChannelError {
  return typeof value === 'object' && value !== null && (value as { isChannelError?: unknown }).isChannelError === true && typeof (value as { code?: unknown }).code === 'string';
}

/** Shorthand used by decoders: a protocol violation that ends the channel. */
export function protocolError(code: ProtocolErrorCode, message: string, id?: number): ChannelError {
  return new ChannelError(code, message, id === undefined ? {} : { id });
}

// Every limit of the service channel and its default (docs/service-protocol.md §15).

/** ALPN protocol name (§2.1): carries the major version. */
export const ALPN_PROTOCOL = 'ambrosia-service/1';
/** Protocol version in every frame header and in HELLO/WELCOME (§3.1, §6). */
export const PROTOCOL_VERSION = 1;
/** Default TCP port of a gateway's service-channel listener (§1). */
export const DEFAULT_PORT = 5347;

/** What a side accepts as a receiver; announced in HELLO/RESUME/WELCOME (§6.4). */
export interface ReceiveLimits {
  maxFramePayload: number;
  maxMessageBytes: number;
  windowBytes: number;
  maxUnackedMessages: number;
  maxPartialMessages: number;
}

export const DEFAULT_RECEIVE_LIMITS: Readonly<ReceiveLimits> = Object.freeze({
  maxFramePayload: 64 * 1024,
  maxMessageBytes: 16 * 1024 * 1024,
  windowBytes: 32 * 1024 * 1024,
  maxUnackedMessages: 32_768,
  maxPartialMessages: 256,
});

/** Allowed ranges of the advertised limits (§6.4); out of range is `malformed-message`. */
export const RECEIVE_LIMIT_RANGES: Readonly<Record<keyof ReceiveLimits, readonly [number, number]>> = Object.freeze({
  maxFramePayload: [4096, 16 * 1024 * 1024],
  maxMessageBytes: [64 * 1024, 1024 * 1024 * 1024],
  windowBytes: [64 * 1024, 0xffff_ffff],
  maxUnackedMessages: [16, 1_048_576],
  maxPartialMessages: [1, 65_536],
});

/** Before the handshake completes both sides accept frames of this size (§3.2). */
export const HANDSHAKE_MAX_FRAME_PAYLOAD = 64 * 1024;

/** Local (not negotiated) limits and timers of one endpoint. */
export interface EndpointLimits {
  /** Sender: payload bytes per chunk, capped by the peer's maxFramePayload (§7.2). */
  chunkSize: number;
  /** Sender: queued (not yet started) bytes/messages at which backpressure is signalled (§11.4). */
  queueHighWaterBytes: number;
  queueHighWaterMessages: number;
  /** Sender: queued bytes/messages beyond which send() is refused with `queue-full` (§11.4). */
  maxQueuedBytes: number;
  maxQueuedMessages: number;
  /** Sender: link dropped when the transport buffers more than this (§11.5). */
  maxWriteBufferBytes: number;
  /** Sender: link dropped when the transport has not drained for this long (§11.5). */
  writeStallTimeoutMs: number;
  /** Sender: channel ended when no ack progress is made for this long (§8.3). */
  ackTimeoutMs: number;
  /** Receiver: channel ended when a message is unfinished this long after its first chunk (§7.2). */
  reassemblyTimeoutMs: number;
  /** Receiver: ranges written per ACK frame (§8.3). */
  maxAckRangesSent: number;
  /** Requester: pending requests and their timeout (§13.1). */
  maxPendingRequests: number;
  requestTimeoutMs: number;
  /** Service: stanzas awaiting a delivery report (§9). */
  maxAwaitingDelivery: number;
  /** Handshake deadline (§5). */
  handshakeTimeoutMs: number;
  /** Graceful close: how long to wait for outstanding acks (§14.1). */
  closeTimeoutMs: number;
}

export const DEFAULT_ENDPOINT_LIMITS: Readonly<EndpointLimits> = Object.freeze({
  chunkSize: 16 * 1024,
  queueHighWaterBytes: 16 * 1024 * 1024,
  queueHighWaterMessages: 32_768,
  maxQueuedBytes: 64 * 1024 * 1024,
  maxQueuedMessages: 131_072,
  maxWriteBufferBytes: 8 * 1024 * 1024,
  writeStallTimeoutMs: 30_000,
  ackTimeoutMs: 30_000,
  reassemblyTimeoutMs: 60_000,
  maxAckRangesSent: 256,
  maxPendingRequests: 1024,
  requestTimeoutMs: 15_000,
  maxAwaitingDelivery: 65_536,
  handshakeTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
});

/** Heartbeat parameters chosen by the gateway and sent in WELCOME (§12). */
export interface HeartbeatSettings {
  heartbeatMs: number;
  deadAfterMs: number;
}

export const DEFAULT_HEARTBEAT: Readonly<HeartbeatSettings> = Object.freeze({ heartbeatMs: 2_000, deadAfterMs: 8_000 });
export const HEARTBEAT_MS_RANGE: readonly [number, number] = [100, 60_000];

/** Gateway-side limits (§15). */
export const DEFAULT_RESUME_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_CHANNELS = 4096;
export const MAX_REGISTRATIONS_PER_CHANNEL = 1024;

/** Ranges accepted in one ACK or DELIVERY payload (§8.2, §9). */
export const MAX_RANGES_ACCEPTED = 1024;

/** Field sizes (§4.2, §6). */
export const MAX_GATEWAY_ID_BYTES = 255;
export const MAX_SESSION_ID_BYTES = 255;
export const MAX_KEY_BYTES = 255;
export const MAX_ORIGIN_BYTES = 3071;
export const MAX_INSTANCE_BYTES = 255;
export const MAX_CHANNEL_ID_BYTES = 64;
export const MAX_ERROR_CODE_BYTES = 64;
/** Ids are u64 on the wire but always below 2^53 (§1). */
export const MAX_MESSAGE_ID = Number.MAX_SAFE_INTEGER;

/** Checks a full set of receive limits against §6.4; returns the first problem or undefined. */
export function receiveLimitsProblem(limits: ReceiveLimits): string | undefined {
  for (const key of Object.keys(RECEIVE_LIMIT_RANGES) as (keyof ReceiveLimits)[]) {
    const value = limits[key];
    const [min, max] = RECEIVE_LIMIT_RANGES[key];
    if (!Number.isSafeInteger(value) || value < min || value > max) return `${key} must be an integer in [${min}, ${max}]`;
  }
  if (limits.maxMessageBytes > limits.windowBytes) return 'maxMessageBytes must not exceed windowBytes';
  return undefined;
}

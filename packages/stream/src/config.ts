// Configuration of a client stream: every bound and timer with its default. README.md has the same
// table; keep the two in step.

import { DEFAULT_LIMITS, PREAUTH_LIMITS, type XmlLimits } from '@ambrosia/xml';

export interface StreamManagementConfig {
  /** Offer XEP-0198 after resource binding. */
  enabled: boolean;
  /** Allow `<enable resume='true'/>` (XEP-0198 §5). */
  allowResume: boolean;
  /**
   * Longest time a detached session waits for resumption; also the `max` sent in `<enabled/>`.
   * A client asking for less (`<enable max='…'/>`) gets less.
   */
  resumeTimeoutMs: number;
  /**
   * Stanzas sent to the client and not yet acknowledged, attached or detached. Reaching it ends
   * the session with `resource-constraint` (attached) or ends the detached session: the stanzas
   * are reported undelivered, so nothing is silently dropped.
   */
  maxUnackedStanzas: number;
  /** Ask for an acknowledgement (`<r/>`) once this many stanzas went out since the last request. */
  ackRequestEvery: number;
  /** ... or once the oldest unrequested stanza has waited this long. */
  ackRequestDelayMs: number;
  /**
   * Longest wait before answering an `<r/>`: the answer waits for the stanzas sent before it to
   * be handled (acknowledged by the service), at most this long (XEP-0198 §4 allows a timeout).
   */
  maxAckDelayMs: number;
}

export interface ClientStreamConfig {
  /** RFC 6120 §5.3.1: TLS is mandatory-to-negotiate; before it only `<starttls/>` is offered. */
  requireTls: boolean;
  /**
   * The 'from' of our stream header when the client's 'to' is missing or not served
   * (RFC 6120 §4.9.1.3). Omitted from the header when undefined.
   */
  defaultDomain: string | undefined;
  /** xml:lang of our stream header when the client's is absent or malformed (RFC 6120 §4.7.4). */
  lang: string;
  /** Parser limits until SASL succeeds (RFC 6120 §13.12 "excessive ... before authentication"). */
  preAuthLimits: XmlLimits;
  /** Parser limits after SASL success; `maxStanzaBytes` is advertised with XEP-0478. */
  limits: XmlLimits;
  /** From connection to a bound or resumed session: absolute. Exceeded → `connection-timeout`. */
  negotiationTimeoutMs: number;
  /**
   * After negotiation: no byte from the client for this long → a liveness probe (XEP-0199 ping,
   * or `<r/>` when XEP-0198 is on). Advertised as XEP-0478 `idle-seconds`.
   */
  idleTimeoutMs: number;
  /** No byte in answer to the probe for this long → the peer is gone (detach or `connection-timeout`). */
  pingTimeoutMs: number;
  /**
   * Bytes held unparsed while the stream waits for an asynchronous answer (domain, SASL, bind,
   * resume) or for stanzas in flight. Reading is paused while any are held; exceeding it anyway
   * → `policy-violation`.
   */
  maxHeldInputBytes: number;
  /**
   * Client stanzas handed to `onStanza` whose promise has not settled. Reaching it pauses reading
   * after the current chunk (so one transport chunk of stanzas may exceed it); reading resumes
   * at half of it.
   */
  maxInflightStanzas: number;
  /**
   * Bytes of output held by the stream while the transport asks us to wait for `drained()`.
   * Exceeding it, or staying congested longer than `drainTimeoutMs`, means the client does not
   * read: a resumable session detaches, any other ends with `connection-timeout`.
   */
  maxSendBufferBytes: number;
  drainTimeoutMs: number;
  /**
   * Failed negotiation attempts the stream answers itself (SASL elements before TLS, undecodable
   * SASL data, bind and resume failures) before closing with `policy-violation`
   * (RFC 6120 §6.4.5 allows "at least 2 and no more than 5" retries).
   */
  maxNegotiationFailures: number;
  /** Offer RFC 3921 `<session/>` as an optional feature and answer it. */
  legacySession: boolean;
  sm: StreamManagementConfig;
}

export type ClientStreamOptions = Partial<Omit<ClientStreamConfig, 'sm' | 'preAuthLimits' | 'limits'>> & {
  preAuthLimits?: Partial<XmlLimits>;
  limits?: Partial<XmlLimits>;
  sm?: Partial<StreamManagementConfig>;
};

export const DEFAULT_SM_CONFIG: Readonly<StreamManagementConfig> = Object.freeze({
  enabled: true,
  allowResume: true,
  resumeTimeoutMs: 300_000,
  maxUnackedStanzas: 1000,
  ackRequestEvery: 5,
  ackRequestDelayMs: 10_000,
  maxAckDelayMs: 5_000,
});

export const DEFAULT_CONFIG: Readonly<Omit<ClientStreamConfig, 'sm'>> = Object.freeze({
  requireTls: true,
  defaultDomain: undefined,
  lang: 'en',
  preAuthLimits: PREAUTH_LIMITS,
  limits: DEFAULT_LIMITS,
  negotiationTimeoutMs: 60_000,
  idleTimeoutMs: 300_000,
  pingTimeoutMs: 30_000,
  maxHeldInputBytes: 65_536,
  maxInflightStanzas: 128,
  maxSendBufferBytes: 1_048_576,
  drainTimeoutMs: 60_000,
  maxNegotiationFailures: 5,
  legacySession: true,
});

/** Largest timer node accepts (2^31 - 1 ms); anything longer fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new RangeError(`stream option ${name} must be an integer in [1, ${max}], got ${String(value)}`);
  }
  return value;
}

const resolved = new WeakMap<ClientStreamOptions, ClientStreamConfig>();
let defaultConfig: ClientStreamConfig | undefined;

/**
 * The config for a stream. A gateway creates every stream of a listener with the same options
 * object; resolving it once keeps one frozen config shared by all of them.
 */
export function configFor(options: ClientStreamOptions | undefined): ClientStreamConfig {
  if (options === undefined) return (defaultConfig ??= resolveConfig());
  let config = resolved.get(options);
  if (config === undefined) {
    config = resolveConfig(options);
    resolved.set(options, config);
  }
  return config;
}

/** Merges options onto the defaults; a bad value is a programming error (RangeError). */
export function resolveConfig(options: ClientStreamOptions = {}): ClientStreamConfig {
  const { sm: smOptions, preAuthLimits, limits, ...rest } = options;
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Partial<ClientStreamConfig>;
  const sm: StreamManagementConfig = {
    ...DEFAULT_SM_CONFIG,
    ...(Object.fromEntries(Object.entries(smOptions ?? {}).filter(([, v]) => v !== undefined)) as Partial<StreamManagementConfig>),
  };
  const config: ClientStreamConfig = {
    ...DEFAULT_CONFIG,
    ...defined,
    preAuthLimits: { ...PREAUTH_LIMITS, ...preAuthLimits },
    limits: { ...DEFAULT_LIMITS, ...limits },
    sm,
  };
  positiveInteger('negotiationTimeoutMs', config.negotiationTimeoutMs, MAX_TIMER_MS);
  positiveInteger('idleTimeoutMs', config.idleTimeoutMs, MAX_TIMER_MS);
  positiveInteger('pingTimeoutMs', config.pingTimeoutMs, MAX_TIMER_MS);
  positiveInteger('drainTimeoutMs', config.drainTimeoutMs, MAX_TIMER_MS);
  positiveInteger('maxHeldInputBytes', config.maxHeldInputBytes);
  positiveInteger('maxInflightStanzas', config.maxInflightStanzas);
  positiveInteger('maxSendBufferBytes', config.maxSendBufferBytes);
  positiveInteger('maxNegotiationFailures', config.maxNegotiationFailures);
  positiveInteger('sm.resumeTimeoutMs', sm.resumeTimeoutMs, MAX_TIMER_MS);
  positiveInteger('sm.maxUnackedStanzas', sm.maxUnackedStanzas);
  positiveInteger('sm.ackRequestEvery', sm.ackRequestEvery);
  positiveInteger('sm.ackRequestDelayMs', sm.ackRequestDelayMs, MAX_TIMER_MS);
  positiveInteger('sm.maxAckDelayMs', sm.maxAckDelayMs, MAX_TIMER_MS);
  if (typeof config.lang !== 'string' || !isLanguageTag(config.lang)) {
    throw new RangeError(`stream option lang must be a language tag, got ${String(config.lang)}`);
  }
  Object.freeze(config.sm);
  Object.freeze(config.preAuthLimits);
  Object.freeze(config.limits);
  return Object.freeze(config);
}

/**
 * The shape of a BCP 47 language tag (RFC 5646 §2.1, simplified to its syntax: subtags of 1–8
 * alphanumerics separated by '-'), bounded in length so a client cannot make us echo a long string.
 */
export function isLanguageTag(s: string): boolean {
  return s.length <= 35 && /^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$/.test(s);
}

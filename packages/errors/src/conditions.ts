// The defined conditions of RFC 6120, kept as data so every package names them the same way.

export const NS_STREAMS = 'http://etherx.jabber.org/streams';
export const NS_XMPP_STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';
export const NS_XMPP_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const NS_XMPP_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

/** RFC 6120 §4.9.3: stream error conditions. */
export const STREAM_ERROR_CONDITIONS = [
  'bad-format',
  'bad-namespace-prefix',
  'conflict',
  'connection-timeout',
  'host-gone',
  'host-unknown',
  'improper-addressing',
  'internal-server-error',
  'invalid-from',
  'invalid-namespace',
  'invalid-xml',
  'not-authorized',
  'not-well-formed',
  'policy-violation',
  'remote-connection-failed',
  'reset',
  'resource-constraint',
  'restricted-xml',
  'see-other-host',
  'system-shutdown',
  'undefined-condition',
  'unsupported-encoding',
  'unsupported-feature',
  'unsupported-stanza-type',
  'unsupported-version',
] as const;
export type StreamErrorCondition = (typeof STREAM_ERROR_CONDITIONS)[number];

/** RFC 6120 §8.3.2: the error types. */
export const STANZA_ERROR_TYPES = ['auth', 'cancel', 'continue', 'modify', 'wait'] as const;
export type StanzaErrorType = (typeof STANZA_ERROR_TYPES)[number];

/**
 * RFC 6120 §8.3.3: stanza error conditions with the type each one "SHOULD" carry.
 * Where the RFC allows two types the first listed is used as the default
 * (unexpected-request: "wait" or "modify"; policy-violation: "modify" or "wait";
 * feature-not-implemented: "cancel" or "modify").
 */
export const STANZA_ERROR_DEFAULT_TYPES = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  gone: 'cancel',
  'internal-server-error': 'cancel',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'policy-violation': 'modify',
  'recipient-unavailable': 'wait',
  redirect: 'modify',
  'registration-required': 'auth',
  'remote-server-not-found': 'cancel',
  'remote-server-timeout': 'wait',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
  'subscription-required': 'auth',
  'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
} as const satisfies Record<string, StanzaErrorType>;
export type StanzaErrorCondition = keyof typeof STANZA_ERROR_DEFAULT_TYPES;
export const STANZA_ERROR_CONDITIONS = Object.keys(STANZA_ERROR_DEFAULT_TYPES) as StanzaErrorCondition[];

/** RFC 6120 §6.5: SASL failure conditions. */
export const SASL_FAILURE_CONDITIONS = [
  'aborted',
  'account-disabled',
  'credentials-expired',
  'encryption-required',
  'incorrect-encoding',
  'invalid-authzid',
  'invalid-mechanism',
  'malformed-request',
  'mechanism-too-weak',
  'not-authorized',
  'temporary-auth-failure',
] as const;
export type SaslFailureCondition = (typeof SASL_FAILURE_CONDITIONS)[number];

const streamSet: ReadonlySet<string> = new Set(STREAM_ERROR_CONDITIONS);
const saslSet: ReadonlySet<string> = new Set(SASL_FAILURE_CONDITIONS);

export function isStreamErrorCondition(s: string): s is StreamErrorCondition {
  return streamSet.has(s);
}
export function isStanzaErrorCondition(s: string): s is StanzaErrorCondition {
  return Object.prototype.hasOwnProperty.call(STANZA_ERROR_DEFAULT_TYPES, s);
}
export function isSaslFailureCondition(s: string): s is SaslFailureCondition {
  return saslSet.has(s);
}

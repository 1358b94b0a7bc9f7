// The XML namespaces a client stream speaks, in one place.
export { NS_STREAMS, NS_XMPP_SASL as NS_SASL, NS_XMPP_STANZAS as NS_STANZAS, NS_XMPP_STREAMS } from '@ambrosia/errors';
export { NS_SASL_CHANNEL_BINDING } from '@ambrosia/sasl';

/** RFC 6120 §4.8.2: the content namespace of client streams. */
export const NS_CLIENT = 'jabber:client';
/** RFC 6120 §5.4: STARTTLS. */
export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
/** RFC 6120 §7: resource binding. */
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
/** RFC 3921 §3 (kept as an optional feature by draft-cridland-xmpp-session-01): legacy session establishment. */
export const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
/** XEP-0198: stream management. */
export const NS_SM = 'urn:xmpp:sm:3';
/** XEP-0352: client state indication. */
export const NS_CSI = 'urn:xmpp:csi:0';
/** XEP-0478: stream limits advertisement. */
export const NS_STREAM_LIMITS = 'urn:xmpp:stream-limits:0';
/** XEP-0199: XMPP ping. */
export const NS_PING = 'urn:xmpp:ping';

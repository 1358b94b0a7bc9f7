// <stream:features/> for each stage of negotiation (RFC 6120 §4.3.2), and the small fixed
// elements of the negotiation protocols.

import { NS_STREAMS } from '@ambrosia/errors';
import { xml, type Element } from '@ambrosia/xml';
import { NS_BIND, NS_CSI, NS_SASL, NS_SASL_CHANNEL_BINDING, NS_SESSION, NS_SM, NS_STREAM_LIMITS, NS_TLS } from './namespaces.js';

/** XEP-0478: what we enforce on the stream that follows these features. */
export interface AdvertisedLimits {
  maxBytes: number;
  idleSeconds: number;
}

function features(children: Element[]): Element {
  return xml('stream:features', { 'xmlns:stream': NS_STREAMS }, children);
}

/**
 * XEP-0478 §3: the limits travel in every <stream:features/>. They are information, not a
 * feature to negotiate, so they are sent before TLS too: RFC 6120 §5.3.1's "only STARTTLS"
 * concerns features that could be negotiated before TLS.
 */
function limitsElement(limits: AdvertisedLimits): Element {
  return xml(
    'limits',
    { xmlns: NS_STREAM_LIMITS },
    xml('max-bytes', null, String(limits.maxBytes)),
    xml('idle-seconds', null, String(limits.idleSeconds)),
  );
}

/**
 * Before TLS and SASL. RFC 6120 §5.3.1: when TLS is mandatory-to-negotiate, STARTTLS (with
 * <required/>) is the only feature offered. When it is not, SASL is offered beside it.
 */
export function initialFeatures(opts: {
  startTls: 'required' | 'optional' | 'unavailable';
  mechanisms: readonly string[] | undefined;
  channelBindingTypes: readonly string[];
  limits: AdvertisedLimits;
}): Element {
  const children: Element[] = [];
  if (opts.startTls !== 'unavailable') {
    children.push(xml('starttls', { xmlns: NS_TLS }, opts.startTls === 'required' ? xml('required') : null));
  }
  if (opts.mechanisms !== undefined && opts.mechanisms.length > 0) {
    children.push(...saslFeatureElements(opts.mechanisms, opts.channelBindingTypes));
  }
  children.push(limitsElement(opts.limits));
  return features(children);
}

/** RFC 6120 §6.4.1 mechanisms, and XEP-0440 §3 the channel-binding types we can compute. */
function saslFeatureElements(mechanisms: readonly string[], channelBindingTypes: readonly string[]): Element[] {
  const out = [xml('mechanisms', { xmlns: NS_SASL }, mechanisms.map((m) => xml('mechanism', null, m)))];
  if (channelBindingTypes.length > 0) {
    out.push(xml('sasl-channel-binding', { xmlns: NS_SASL_CHANNEL_BINDING }, channelBindingTypes.map((type) => xml('channel-binding', { type }))));
  }
  return out;
}

/** After SASL success and the stream restart (RFC 6120 §6.4.6, §7.2). */
export function authenticatedFeatures(opts: { legacySession: boolean; streamManagement: boolean; limits: AdvertisedLimits }): Element {
  return features([
    xml('bind', { xmlns: NS_BIND }),
    // RFC 3921 §3 session establishment is a no-op since RFC 6120; <optional/> tells modern
    // clients to skip it (draft-cridland-xmpp-session-01) while old ones still get their result.
    opts.legacySession ? xml('session', { xmlns: NS_SESSION }, xml('optional')) : null,
    opts.streamManagement ? xml('sm', { xmlns: NS_SM }) : null,
    xml('csi', { xmlns: NS_CSI }),
    limitsElement(opts.limits),
  ].filter((e): e is Element => e !== null));
}

export const PROCEED_XML = `<proceed xmlns="${NS_TLS}"/>`;
/** RFC 6120 §5.4.2.2: TLS failure; the stream is closed right after it. */
export const TLS_FAILURE_XML = `<failure xmlns="${NS_TLS}"/>`;
export const SM_REQUEST_XML = `<r xmlns="${NS_SM}"/>`;

export function smAck(h: number): string {
  return `<a xmlns="${NS_SM}" h="${h}"/>`;
}

import { Element, clone, xml } from '@ambrosia/xml';
import {
  NS_STREAMS,
  NS_XMPP_SASL,
  NS_XMPP_STANZAS,
  NS_XMPP_STREAMS,
  STANZA_ERROR_DEFAULT_TYPES,
  isSaslFailureCondition,
  isStanzaErrorCondition,
  isStreamErrorCondition,
  type SaslFailureCondition,
  type StanzaErrorCondition,
  type StanzaErrorType,
  type StreamErrorCondition,
} from './conditions.js';

export type XmppErrorKind = 'stream' | 'stanza' | 'sasl';

export interface XmppErrorOptions {
  /** Human-readable text sent to the peer in a `<text/>` element. Never put secrets here. */
  text?: string;
  /** xml:lang of the text. */
  lang?: string;
  /** An application-specific condition element (RFC 6120 §4.9.4, §8.3.2). */
  application?: Element;
  /** A stable code for programs and logs; derived from the condition when absent. */
  code?: string;
  cause?: unknown;
}

function codeFor(kind: XmppErrorKind, condition: string): string {
  return `XMPP_${kind.toUpperCase()}_${condition.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * The common base. Identity is by `xmppErrorKind` and `code`, never by `instanceof`:
 * two installed copies of this package must still recognise each other's errors.
 */
export abstract class XmppError extends Error {
  abstract readonly xmppErrorKind: XmppErrorKind;
  readonly condition: string;
  readonly code: string;
  readonly text: string | undefined;
  readonly lang: string | undefined;
  readonly application: Element | undefined;

  protected constructor(kind: XmppErrorKind, condition: string, options: XmppErrorOptions) {
    super(options.text ? `${condition}: ${options.text}` : condition, options.cause === undefined ? undefined : { cause: options.cause });
    this.condition = condition;
    this.code = options.code ?? codeFor(kind, condition);
    this.text = options.text;
    this.lang = options.lang;
    this.application = options.application;
  }

  abstract toElement(): Element;

  protected textElement(ns: string): Element | undefined {
    if (this.text === undefined) return undefined;
    return xml('text', { xmlns: ns, 'xml:lang': this.lang }, this.text);
  }
}

export interface StreamErrorOptions extends XmppErrorOptions {
  /** For `see-other-host`: the host[:port] (RFC 6120 §4.9.3.19), IPv6 in brackets. */
  seeOtherHost?: string;
}

/** RFC 6120 §4.9: a stream error closes the stream. */
export class StreamError extends XmppError {
  override readonly name = 'StreamError';
  readonly xmppErrorKind = 'stream' as const;
  declare readonly condition: StreamErrorCondition;
  readonly seeOtherHost: string | undefined;

  constructor(condition: StreamErrorCondition, options: StreamErrorOptions = {}) {
    super('stream', condition, options);
    this.seeOtherHost = options.seeOtherHost;
  }

  /** `<stream:error>`, with the stream prefix declared so it stands alone (WebSocket framing too). */
  toElement(): Element {
    const conditionElement = xml(this.condition, { xmlns: NS_XMPP_STREAMS }, this.seeOtherHost);
    return xml('stream:error', { 'xmlns:stream': NS_STREAMS }, conditionElement, this.textElement(NS_XMPP_STREAMS), this.application);
  }

  static fromElement(el: Element): StreamError {
    const parsed = readDefinedCondition(el, NS_XMPP_STREAMS);
    const condition = parsed.condition !== undefined && isStreamErrorCondition(parsed.condition) ? parsed.condition : 'undefined-condition';
    return new StreamError(condition, {
      ...parsed.options,
      seeOtherHost: condition === 'see-other-host' ? parsed.conditionText : undefined,
    });
  }
}

export interface StanzaErrorOptions extends XmppErrorOptions {
  /** Overrides the RFC's default type for the condition. */
  type?: StanzaErrorType;
  /** RFC 6120 §8.3.2: the entity that generated the error. */
  by?: string;
  /** For `gone` and `redirect`: the new address (RFC 6120 §8.3.3.5, §8.3.3.14). */
  uri?: string;
}

/** RFC 6120 §8.3: a stanza error is returned to the sender; the stream stays open. */
export class StanzaError extends XmppError {
  override readonly name = 'StanzaError';
  readonly xmppErrorKind = 'stanza' as const;
  declare readonly condition: StanzaErrorCondition;
  readonly type: StanzaErrorType;
  readonly by: string | undefined;
  readonly uri: string | undefined;

  constructor(condition: StanzaErrorCondition, options: StanzaErrorOptions = {}) {
    super('stanza', condition, options);
    this.type = options.type ?? STANZA_ERROR_DEFAULT_TYPES[condition];
    this.by = options.by;
    this.uri = options.uri;
  }

  /** The `<error/>` child of an error stanza. */
  toElement(): Element {
    const conditionElement = xml(this.condition, { xmlns: NS_XMPP_STANZAS }, this.uri);
    return xml('error', { type: this.type, by: this.by }, conditionElement, this.textElement(NS_XMPP_STANZAS), this.application);
  }

  static fromElement(errorElement: Element): StanzaError {
    const parsed = readDefinedCondition(errorElement, NS_XMPP_STANZAS);
    const condition = parsed.condition !== undefined && isStanzaErrorCondition(parsed.condition) ? parsed.condition : 'undefined-condition';
    const type = errorElement.attrs.type;
    return new StanzaError(condition, {
      ...parsed.options,
      type: isStanzaErrorType(type) ? type : undefined,
      by: typeof errorElement.attrs.by === 'string' ? errorElement.attrs.by : undefined,
      uri: condition === 'gone' || condition === 'redirect' ? parsed.conditionText : undefined,
    });
  }
}

/** RFC 6120 §6.4.5: a SASL failure; the client may try again. */
export class SaslFailure extends XmppError {
  override readonly name = 'SaslFailure';
  readonly xmppErrorKind = 'sasl' as const;
  declare readonly condition: SaslFailureCondition;

  constructor(condition: SaslFailureCondition, options: XmppErrorOptions = {}) {
    super('sasl', condition, options);
  }

  toElement(): Element {
    return xml('failure', { xmlns: NS_XMPP_SASL }, xml(this.condition), this.textElement(NS_XMPP_SASL));
  }

  static fromElement(el: Element): SaslFailure {
    const parsed = readDefinedCondition(el, NS_XMPP_SASL, true);
    const condition = parsed.condition !== undefined && isSaslFailureCondition(parsed.condition) ? parsed.condition : 'not-authorized';
    return new SaslFailure(condition, parsed.options);
  }
}

function isStanzaErrorType(s: unknown): s is StanzaErrorType {
  return s === 'auth' || s === 'cancel' || s === 'continue' || s === 'modify' || s === 'wait';
}

/**
 * Reads the defined-condition child, the text and an application element. SASL failures put
 * the condition in the namespace of `<failure/>` itself, so it is inherited (`inherited`).
 */
function readDefinedCondition(
  el: Element,
  ns: string,
  inherited = false,
): { condition: string | undefined; conditionText: string | undefined; options: XmppErrorOptions } {
  let condition: string | undefined;
  let conditionText: string | undefined;
  let text: string | undefined;
  let lang: string | undefined;
  let application: Element | undefined;
  for (const child of el.children) {
    if (typeof child === 'string') continue;
    const childNs = child.attrs.xmlns ?? (inherited ? ns : undefined);
    if (child.name === 'text' && childNs === ns) {
      text = child.getText();
      lang = child.attrs['xml:lang'];
    } else if (childNs === ns) {
      if (condition === undefined) {
        condition = child.name;
        conditionText = child.getText() || undefined;
      }
    } else if (application === undefined) {
      application = child;
    }
  }
  return { condition, conditionText, options: { text, lang, application } };
}

// Brand checks: work across package copies, unlike instanceof.
function kindOf(e: unknown): unknown {
  return typeof e === 'object' && e !== null ? (e as { xmppErrorKind?: unknown }).xmppErrorKind : undefined;
}
export function isStreamError(e: unknown): e is StreamError {
  return kindOf(e) === 'stream';
}
export function isStanzaError(e: unknown): e is StanzaError {
  return kindOf(e) === 'stanza';
}
export function isSaslFailure(e: unknown): e is SaslFailure {
  return kindOf(e) === 'sasl';
}
export function isXmppError(e: unknown): e is XmppError {
  const kind = kindOf(e);
  return kind === 'stream' || kind === 'stanza' || kind === 'sasl';
}

export interface ErrorReplyOptions {
  /** RFC 6120 §8.3.1: the original payload MAY be included; off by default to keep replies small. */
  includeOriginal?: boolean;
}

/**
 * RFC 6120 §8.3.1: the error response to a stanza: same kind and id, `to`/`from` swapped,
 * type "error". Returns undefined for a stanza of type "error" (§8.3.1 rule 4: never answer
 * an error with an error, which would loop).
 */
export function errorReply(stanza: Element, error: StanzaError, options: ErrorReplyOptions = {}): Element | undefined {
  if (stanza.attrs.type === 'error') return undefined;
  const reply = xml(stanza.name, {
    xmlns: stanza.attrs.xmlns,
    id: stanza.attrs.id,
    to: stanza.attrs.from,
    from: stanza.attrs.to,
    type: 'error',
  });
  if (options.includeOriginal) {
    for (const child of stanza.children) {
      if (typeof child !== 'string') reply.append(clone(child));
    }
  }
  reply.append(error.toElement());
  return reply;
}

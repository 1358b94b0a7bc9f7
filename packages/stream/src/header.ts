// Stream headers: checking the client's (RFC 6120 §4.7, §4.8) and writing ours.

import type { StreamErrorCondition } from '@ambrosia/errors';
import { tryParseJID } from '@ambrosia/jid';
import { escapeAttribute, type StreamHeader } from '@ambrosia/xml';
import { isLanguageTag } from './config.js';
import { NS_CLIENT, NS_STREAMS } from './namespaces.js';

export interface CheckedHeader {
  /** The prepared domainpart of 'to'. */
  domain: string;
  /** RFC 6120 §4.7.2: the bare JID of the client's 'from', echoed as our 'to'. */
  replyTo: string | undefined;
}

export type HeaderCheck =
  | { ok: true; header: CheckedHeader; lang: string; langFromClient: boolean }
  | { ok: false; condition: StreamErrorCondition; text: string; lang: string };

const VERSION = /^(\d{1,9})\.(\d{1,9})$/;

/**
 * Checks a client stream header. The order decides which error wins when several apply: a
 * header in the wrong namespace tells us nothing else reliable, so namespaces come first.
 */
export function checkStreamHeader(header: StreamHeader, defaultLang: string): HeaderCheck {
  const requestedLang = header.attrs['xml:lang'];
  // RFC 6120 §4.7.4: we SHOULD answer in the client's language; echo it only when well formed.
  const lang = requestedLang !== undefined && isLanguageTag(requestedLang) ? requestedLang : defaultLang;
  const fail = (condition: StreamErrorCondition, text: string): HeaderCheck => ({ ok: false, condition, text, lang });

  // RFC 6120 §4.8.1, §4.9.3.10: the root is <stream/> qualified by the streams namespace. The
  // prefix is not checked: namespace-aware processing makes any prefix bound to it equivalent.
  if (header.namespace !== NS_STREAMS) return fail('invalid-namespace', 'the stream element must be qualified by http://etherx.jabber.org/streams');
  // RFC 6120 §4.9.3.1: right namespace, wrong element: XML we cannot process.
  if (header.localName !== 'stream') return fail('bad-format', "the stream root element must be 'stream'");
  // RFC 6120 §4.8.2, §4.9.3.10: the content namespace, declared as the default namespace.
  if (header.namespaces[''] !== NS_CLIENT) return fail('invalid-namespace', 'the default namespace must be jabber:client');

  // RFC 6120 §4.7.5: no 'version' means "0.9", i.e. pre-RFC 3920 jabber:iq:auth streams without
  // stream features, which we do not offer (rule 4 → RFC 6120 §4.9.3.25). A version of 1.x or
  // higher is answered with "1.0", the lower of the two (rule 2): it is the client's job to give up
  // if it cannot speak 1.0 (rule 3), so a "2.0" is not an error here.
  const version = header.attrs.version;
  if (version === undefined) return fail('unsupported-version', 'XMPP 1.0 is required; a stream without version means 0.9');
  const match = VERSION.exec(version);
  if (!match) return fail('unsupported-version', 'malformed version');
  if (Number(match[1]) < 1) return fail('unsupported-version', 'XMPP 1.0 is required');

  // RFC 6120 §4.7.2: the initiating entity MUST include 'to'. Without it we cannot tell which
  // host is wanted: that is RFC 6120 §4.9.1.3's "unspecified host", answered like an unknown one.
  const to = header.attrs.to;
  if (to === undefined || to === '') return fail('host-unknown', "a 'to' attribute naming the domain is required");
  const domain = tryParseJID(to);
  // A 'to' that is no domainpart violates the rules for XMPP addresses (RFC 6120 §4.9.3.7).
  if (domain === undefined || domain.local !== '' || domain.resource !== '') {
    return fail('improper-addressing', "the 'to' attribute must be a domain");
  }

  const from = header.attrs.from;
  const fromJid = from === undefined ? undefined : tryParseJID(from);
  return { ok: true, header: { domain: domain.domain, replyTo: fromJid?.bare.toString() }, lang, langFromClient: lang === requestedLang };
}

/** Our stream header, preceded by the XML declaration (RFC 6120 §11.5). */
export function streamHeaderXml(opts: { id: string; from: string | undefined; to: string | undefined; lang: string }): string {
  let out = `<?xml version='1.0'?><stream:stream xmlns="${NS_CLIENT}" xmlns:stream="${NS_STREAMS}" id="${escapeAttribute(opts.id)}"`;
  if (opts.from !== undefined) out += ` from="${escapeAttribute(opts.from)}"`;
  if (opts.to !== undefined) out += ` to="${escapeAttribute(opts.to)}"`;
  return `${out} version="1.0" xml:lang="${escapeAttribute(opts.lang)}">`;
}

export const STREAM_CLOSE = '</stream:stream>';

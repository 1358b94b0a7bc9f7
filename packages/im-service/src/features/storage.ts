// XEP-0054 vCard-temp and XEP-0049 private XML storage: one user's documents, read and written
// only by that user (anyone may read a vCard).
import { StanzaError } from '@ambrosia/errors';
import type { JID } from '@ambrosia/jid';
import { serialize, xml, type Element } from '@ambrosia/xml';
import type { ImContext } from '../context.js';
import { SESSION_FLAGS_NAMESPACE } from '../context.js';
import { NS } from '../namespaces.js';
import { parseStored } from '../stored.js';

/** XEP-0054 §3.1: the stored vCard, or an empty one when there is none. */
export async function readVCard(ctx: ImContext, owner: JID): Promise<Element> {
  const stored = await ctx.store.vcard.get(owner.toBareString());
  if (stored === null) return xml('vCard', { xmlns: NS.vcard });
  return parseStored(stored);
}

/** XEP-0054 §3.2: replaces the user's vCard; too large is not-acceptable and keeps the old one. */
export async function writeVCard(ctx: ImContext, owner: JID, vcard: Element): Promise<StanzaError | undefined> {
  const result = await ctx.store.vcard.set(owner.toBareString(), serialize(vcard));
  if (!result.ok) return new StanzaError('not-acceptable', { text: `vCard larger than ${result.limit} bytes` });
  return undefined;
}

/** Namespaces no client may use for private storage (XEP-0049 §3: jabber:*, and ours). */
function reserved(namespace: string): boolean {
  return namespace.startsWith('jabber:') || namespace === NS.vcard || namespace.startsWith('urn:ambrosia:') || namespace === SESSION_FLAGS_NAMESPACE;
}

/** XEP-0049 §2: the query carries exactly one element with a namespace. */
export async function handlePrivate(ctx: ImContext, owner: JID, type: 'get' | 'set', query: Element): Promise<Element | StanzaError> {
  const children = query.children.filter((c): c is Element => typeof c !== 'string');
  if (children.length !== 1) return new StanzaError('not-acceptable', { text: 'exactly one child element' });
  const element = children[0] as Element;
  const namespace = element.attrs.xmlns;
  if (namespace === undefined || namespace === '') return new StanzaError('bad-request', { text: 'the element needs a namespace' });
  if (reserved(namespace)) return new StanzaError('not-acceptable', { text: 'reserved namespace' });
  const account = owner.toBareString();
  if (type === 'get') {
    const stored = await ctx.store.privateXml.get(account, element.name, namespace);
    return xml('query', { xmlns: NS.private }, stored === null ? xml(element.name, { xmlns: namespace }) : parseStored(stored));
  }
  const result = await ctx.store.privateXml.set(account, element.name, namespace, serialize(element));
  if (!result.ok) {
    return result.reason === 'too-large'
      ? new StanzaError('not-acceptable', { text: `item larger than ${result.limit} bytes` })
      : new StanzaError('resource-constraint', { text: `private storage full (${result.limit} bytes)` });
  }
  return xml('query', { xmlns: NS.private });
}

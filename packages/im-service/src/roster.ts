// RFC 6121 §2: roster get, set, remove and pushes, with versioning (§2.6, XEP-0237).
import type { RosterChange, RosterItem, RosterItemInput, RosterRefusal } from '@ambrosia/im-store';
import { parseJID, type JID } from '@ambrosia/jid';
import type { ReceivedStanza } from '@ambrosia/service-sdk';
import { xml, type Element } from '@ambrosia/xml';
import { parseAddress } from './addresses.js';
import type { ImContext, UserSession } from './context.js';
import { NS } from './namespaces.js';
import { sendUnavailablePresence } from './presence.js';
import { hasFrom, hasTo } from './subscription.js';

const ITEM_ATTRIBUTES = new Set(['jid', 'name', 'subscription', 'ask', 'approved', 'xmlns']);
const SUBSCRIPTION_VALUES = new Set(['none', 'to', 'from', 'both', 'remove']);

/** The <item/> of a roster result or push (§2.1.2). */
export function rosterItemElement(item: RosterItem): Element {
  return xml(
    'item',
    {
      jid: item.jid,
      name: item.name,
      subscription: item.subscription,
      ask: item.ask ? 'subscribe' : undefined,
      approved: item.approved ? 'true' : undefined,
    },
    item.groups.map((group) => xml('group', null, group)),
  );
}

function changeElement(change: RosterChange): Element {
  return 'removed' in change ? xml('item', { jid: change.jid, subscription: 'remove' }) : rosterItemElement(change.item);
}

function pushStanza(ctx: ImContext, to: string, change: RosterChange, version: string | undefined): Element {
  return xml('iq', { type: 'set', id: `push-${ctx.newId()}`, to }, xml('query', { xmlns: NS.roster, ver: version }, changeElement(change)));
}

/**
 * §2.1.6: a roster push to every interested resource — those that asked for the roster (a flag in
 * the store) and, as a safety net for clients that cached it, those that are available.
 */
export async function pushRosterChange(ctx: ImContext, user: JID, change: RosterChange, version: string): Promise<void> {
  const sessions = await ctx.sessions(user);
  await Promise.all(
    sessions.map(async (session) => {
      if (!session.available && !(await ctx.flags(user, session.resource)).has('roster')) return;
      await ctx.deliver(session, pushStanza(ctx, session.jid, change, version));
    }),
  );
}

export async function pushRosterItem(ctx: ImContext, user: JID, item: RosterItem | null, jid: string, version: string): Promise<void> {
  await pushRosterChange(ctx, user, item === null ? { jid, removed: true } : { jid, item }, version);
}

function refusalCondition(refusal: RosterRefusal): { condition: 'not-acceptable' | 'resource-constraint' | 'internal-server-error'; text: string } {
  switch (refusal.reason) {
    case 'too-large':
      return { condition: 'not-acceptable', text: `${refusal.field} longer than ${refusal.limit}` };
    case 'roster-full':
      return { condition: 'resource-constraint', text: `roster full (${refusal.limit} items)` };
    case 'pending-full':
      return { condition: 'resource-constraint', text: `too many pending requests (${refusal.limit})` };
    case 'conflict':
      return { condition: 'internal-server-error', text: 'roster busy, try again' };
  }
}

export async function handleRosterIq(ctx: ImContext, received: ReceivedStanza, user: JID, session: UserSession | undefined): Promise<void> {
  const iq = received.element;
  const query = iq.getChild('query', NS.roster) as Element;
  const account = user.toBareString();
  if (iq.attrs.type === 'get') {
    const clientVersion = query.attrs.ver;
    const view = await ctx.store.roster.get(account, clientVersion === undefined || clientVersion === '' ? undefined : clientVersion);
    if (session !== undefined) await ctx.setFlag(user, session.resource, 'roster', true).catch((e) => ctx.report(e));
    const result = xml('iq', { type: 'result', id: iq.attrs.id, to: iq.attrs.from });
    if (view.kind === 'full') {
      result.append(xml('query', { xmlns: NS.roster, ver: clientVersion === undefined ? undefined : view.version }, view.items.map(rosterItemElement)));
      await ctx.reply(received, result);
      return;
    }
    // §2.6.3: an empty result, then the changes as pushes to this resource only; only the last
    // carries the new version, so a client cut off halfway never believes it has everything.
    await ctx.reply(received, result);
    for (const [index, change] of view.changes.entries()) {
      const last = index === view.changes.length - 1;
      await ctx.reply(received, pushStanza(ctx, received.origin, change, last ? view.version : undefined));
    }
    return;
  }
  if (iq.attrs.type !== 'set') return;

  // §2.3.3: exactly one item.
  const items = query.getChildren('item');
  if (items.length !== 1 || query.children.some((c) => typeof c !== 'string' && c.name !== 'item')) {
    return ctx.replyError(received, 'bad-request', { text: 'a roster set carries exactly one item' });
  }
  const item = items[0] as Element;
  const unknown = Object.keys(item.attrs).find((name) => !ITEM_ATTRIBUTES.has(name));
  if (unknown !== undefined) return ctx.replyError(received, 'bad-request', { text: `unknown item attribute ${unknown}` });
  const contact = parseAddress(item.attrs.jid);
  if (contact === undefined) return ctx.replyError(received, 'bad-request', { text: 'the item has no jid' });
  if (contact === null) return ctx.replyError(received, 'jid-malformed');
  if (contact.resource !== '') return ctx.replyError(received, 'bad-request', { text: 'roster items are bare JIDs' });
  const subscription = item.attrs.subscription;
  if (subscription !== undefined && !SUBSCRIPTION_VALUES.has(subscription)) return ctx.replyError(received, 'bad-request', { text: 'unknown subscription value' });
  const contactJid = contact.toBareString();

  if (subscription === 'remove') return removeItem(ctx, received, user, contactJid);

  const groups: string[] = [];
  for (const group of item.getChildren('group')) {
    const name = group.getText();
    if (name === '') return ctx.replyError(received, 'not-acceptable', { text: 'empty group name' });
    if (groups.includes(name)) return ctx.replyError(received, 'bad-request', { text: 'duplicate group' });
    groups.push(name);
  }
  const name = item.attrs.name;
  // §2.1.2.5: the client sets name and groups only; subscription, ask and approved are the server's.
  const result = await ctx.store.roster.update(account, contactJid, (current) => {
    const next: RosterItemInput = current.item === null ? { groups, subscription: 'none', ask: false, approved: false } : { ...current.item, groups };
    next.name = name;
    return { item: next };
  });
  if (!result.ok) {
    const { condition, text } = refusalCondition(result);
    return ctx.replyError(received, condition, { text });
  }
  await ctx.reply(received, xml('iq', { type: 'result', id: iq.attrs.id, to: iq.attrs.from }));
  if (result.itemChanged) await pushRosterItem(ctx, user, result.contact.item, contactJid, result.version);
}

/** §2.5: removing an item cancels both subscriptions and any pending request. */
async function removeItem(ctx: ImContext, received: ReceivedStanza, user: JID, contactJid: string): Promise<void> {
  const account = user.toBareString();
  const result = await ctx.store.roster.update(account, contactJid, (current) => (current.item === null ? undefined : { item: null, pendingIn: null }));
  if (!result.ok) {
    const { condition, text } = refusalCondition(result);
    return ctx.replyError(received, condition, { text });
  }
  const previous = result.previous.item;
  if (previous === null) return ctx.replyError(received, 'item-not-found');
  await ctx.reply(received, xml('iq', { type: 'result', id: received.element.attrs.id, to: received.element.attrs.from }));
  await pushRosterItem(ctx, user, null, contactJid, result.version);
  const contact = parseJID(contactJid);
  const bare = user.bare;
  const hadFrom = hasFrom(previous.subscription);
  const hadTo = hasTo(previous.subscription);
  if (hadFrom || result.previous.pendingIn !== null) {
    await ctx.send(xml('presence', { type: 'unsubscribed', from: account, to: contactJid }), bare, contact);
  }
  if (hadTo || previous.ask) await ctx.send(xml('presence', { type: 'unsubscribe', from: account, to: contactJid }), bare, contact);
  if (hadFrom) await sendUnavailablePresence(ctx, bare, contact);
}


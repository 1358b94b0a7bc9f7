// RFC 6121 §3 (subscriptions) and §4 (presence): broadcast on initial, changed and unavailable
// presence, probes, directed presence, and the user's side and the contact's side of every
// subscription stanza (the state machine is subscription.ts).
import type { RosterItem } from '@ambrosia/im-store';
import type { JID } from '@ambrosia/jid';
import type { ReceivedStanza, SessionEvent } from '@ambrosia/service-sdk';
import { serialize, xml, type Element } from '@ambrosia/xml';
import { blockCandidates, matchesBlocklist, parseAddress } from './addresses.js';
import type { ImContext, UserSession } from './context.js';
import { directedTargets, forgetDirected, trackDirected } from './directed.js';
import { startOfflineFlush } from './offline.js';
import { pushRosterItem } from './roster.js';
import { parseStored, readdress } from './stored.js';
import { hasFrom, hasTo, inboundSubscription, isSubscriptionType, outboundSubscription, type InboundDecision, type OutboundDecision } from './subscription.js';
import { NS } from './namespaces.js';

async function blocklistOf(ctx: ImContext, user: JID): Promise<Set<string>> {
  if (!ctx.features.blocking) return new Set();
  return new Set(await ctx.store.blocking.list(user.toBareString()));
}

/** Has `user` blocked `other` (XEP-0191 §6 matching)? */
export async function isBlockedBy(ctx: ImContext, user: JID, other: JID): Promise<boolean> {
  if (!ctx.features.blocking) return false;
  return (await ctx.store.blocking.blockedAmong(user.toBareString(), blockCandidates(other))).length > 0;
}

/** The XEP-0191 §3.3 error for a stanza a user sends to someone they blocked. */
export async function replyBlocked(ctx: ImContext, received: ReceivedStanza): Promise<void> {
  await ctx.replyError(received, 'not-acceptable', { application: xml('blocked', { xmlns: NS.blockingErrors }) });
}

/** Runs tasks with at most `limit` in flight (probes and broadcasts to large rosters). */
async function inBatches<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += limit) await Promise.all(items.slice(i, i + limit).map(task));
}

/** The user's stored presences, parsed (a corrupt entry is reported and skipped). */
async function storedPresences(ctx: ImContext, user: JID): Promise<Array<{ resource: string; stanza: Element }>> {
  const list = await ctx.store.presence.list(user.toBareString());
  const out: Array<{ resource: string; stanza: Element }> = [];
  for (const entry of list) {
    try {
      out.push({ resource: entry.resource, stanza: parseStored(entry.xml) });
    } catch (e) {
      ctx.report(e);
    }
  }
  return out;
}

/** Sends the current presence of every available resource of `user` to `to` (§3.1.5, §4.3.2). */
export async function sendCurrentPresence(ctx: ImContext, user: JID, to: JID): Promise<void> {
  if (await isBlockedBy(ctx, user, to)) return;
  for (const { resource, stanza } of await storedPresences(ctx, user)) {
    const from = user.withResource(resource);
    await ctx.send(readdress(stanza, from.toString(), to.toString()), from, to);
  }
}

/** Unavailable presence from every available resource of `user` to `to` (§3.2.2, §3.3.3). */
export async function sendUnavailablePresence(ctx: ImContext, user: JID, to: JID): Promise<void> {
  for (const { resource } of await storedPresences(ctx, user)) {
    const from = user.withResource(resource);
    await ctx.send(xml('presence', { type: 'unavailable', from: from.toString(), to: to.toString() }), from, to);
  }
}

/** A presence the user's client sent. */
export async function handleClientPresence(ctx: ImContext, received: ReceivedStanza, user: JID, session: UserSession): Promise<void> {
  const stanza = received.element;
  const type = stanza.attrs.type;
  const to = parseAddress(stanza.attrs.to);
  if (to === null) return ctx.replyError(received, 'jid-malformed');
  if (to === undefined) {
    if (type === undefined) return broadcastAvailable(ctx, stanza, user, session);
    if (type === 'unavailable') return broadcastUnavailable(ctx, stanza, user, session);
    return; // probes, errors and subscription stanzas without an addressee mean nothing
  }
  if (isSubscriptionType(type)) return outboundSubscriptionStanza(ctx, received, type, user, to.bare);
  if (await isBlockedBy(ctx, user.bare, to)) return replyBlocked(ctx, received);
  if (type === 'probe') {
    // §4.3: probes are the server's business; a client's probe is handled as if the server sent it.
    await ctx.send(xml('presence', { type: 'probe', from: user.toBareString(), to: to.toBareString() }), user.bare, to.bare);
    return;
  }
  // Directed presence (§4.6) and presence errors. Available and unavailable directed presence
  // is remembered for the unavailable broadcast (§4.6.3), except to the user's own resources.
  if ((type === undefined || type === 'unavailable') && to.toBareString() !== user.toBareString()) {
    await trackDirected(ctx, user, to, type === undefined);
  }
  await ctx.send(readdress(stanza, user.toString(), to.toString()), user, to);
}

async function rosterItems(ctx: ImContext, user: JID): Promise<RosterItem[]> {
  const view = await ctx.store.roster.get(user.toBareString());
  return view.kind === 'full' ? view.items : [];
}

/** §4.2 initial presence and §4.4 presence updates. */
async function broadcastAvailable(ctx: ImContext, stanza: Element, user: JID, session: UserSession): Promise<void> {
  const account = user.toBareString();
  const before = await ctx.store.presence.list(account);
  const initial = !before.some((p) => p.resource === user.resource);
  const presence = readdress(stanza, user.toString(), undefined);
  const stored = await ctx.store.presence.set(account, user.resource, serialize(presence));
  if (!stored.ok) ctx.report(new Error(`presence of ${user.toString()} not stored: ${stored.reason} (limit ${stored.limit})`));

  const [items, blocked] = await Promise.all([rosterItems(ctx, user), blocklistOf(ctx, user)]);
  // The user's own resources are served below; an item for the user's own JID adds nothing.
  // Each roster JID is parsed once here, not again for the broadcast and the probes.
  const contacts: Array<{ item: RosterItem; contact: JID }> = [];
  for (const item of items) {
    if (item.jid === account) continue;
    const contact = parseAddressStrict(item.jid);
    if (!matchesBlocklist(blocked, contact)) contacts.push({ item, contact });
  }
  // To contacts subscribed to the user (§4.2.2, §4.4.2).
  await inBatches(contacts.filter((c) => hasFrom(c.item.subscription)), ctx.limits.probeConcurrency, async ({ item, contact }) => {
    await ctx.send(readdress(presence, user.toString(), item.jid), user, contact);
  });
  // To all the user's available resources, the sender included.
  const sessions = await ctx.sessions(user.bare);
  const others = sessions.filter((s) => s.session !== session.session || s.gateway !== session.gateway);
  await Promise.all([session, ...others.filter((s) => s.available)].map((s) => ctx.deliver(s, readdress(presence, user.toString(), s.jid))));
  if (!initial) return;

  // §4.2.2: the other resources' presence to the new one, probes to the contacts the user is
  // subscribed to (§4.3), pending subscription requests (§3.1.3), then offline messages.
  for (const other of before) {
    if (other.resource === user.resource) continue;
    try {
      await ctx.deliver(session, readdress(parseStored(other.xml), user.withResource(other.resource).toString(), user.toString()));
    } catch (e) {
      ctx.report(e);
    }
  }
  await inBatches(contacts.filter((c) => hasTo(c.item.subscription)), ctx.limits.probeConcurrency, async ({ item, contact }) => {
    // A local contact's answer goes straight to the new resource (the others have it already);
    // a remote one is probed from the bare JID (§4.3.1) and answers to it.
    if (ctx.isLocal(contact)) return answerProbe(ctx, user, contact);
    await ctx.send(xml('presence', { type: 'probe', from: account, to: item.jid }), user.bare, contact);
  });
  for (const pending of await ctx.store.roster.listPending(account)) {
    await ctx.deliver(session, xml('presence', { type: 'subscribe', from: pending.jid, to: account }, pending.status === undefined ? null : xml('status', null, pending.status)));
  }
  startOfflineFlush(ctx, user, session);
}

/** §4.5: unavailable presence, sent by the client or implied by a closed session. */
async function broadcastUnavailable(ctx: ImContext, stanza: Element | undefined, user: JID, session: UserSession | undefined): Promise<void> {
  const account = user.toBareString();
  const [wasAvailable, directed] = await Promise.all([ctx.store.presence.remove(account, user.resource), directedTargets(ctx, user)]);
  const presence = stanza === undefined ? xml('presence', { type: 'unavailable', from: user.toString() }) : readdress(stanza, user.toString(), undefined);
  // A closed session that was never available and sent no directed presence has nothing to take back.
  if (stanza === undefined && !wasAvailable && directed.length === 0) return;
  const [items, blocked] = await Promise.all([rosterItems(ctx, user), blocklistOf(ctx, user)]);
  // The broadcast goes out only for a resource that was available (or that says it is leaving).
  const broadcast = stanza !== undefined || wasAvailable;
  const subscribers: Array<{ jid: string; contact: JID }> = [];
  for (const item of broadcast ? items : []) {
    if (!hasFrom(item.subscription) || item.jid === account) continue;
    const contact = parseAddressStrict(item.jid);
    if (!matchesBlocklist(blocked, contact)) subscribers.push({ jid: item.jid, contact });
  }
  await inBatches(subscribers, ctx.limits.probeConcurrency, async ({ jid, contact }) => ctx.send(readdress(presence, user.toString(), jid), user, contact));
  // §4.6.3: entities that had directed presence and are not covered by the broadcast.
  const covered = new Set(subscribers.map((s) => s.jid));
  for (const target of directed) {
    const address = parseAddress(target);
    if (address === null || address === undefined || covered.has(address.toBareString()) || matchesBlocklist(blocked, address)) continue;
    await ctx.send(readdress(presence, user.toString(), target), user, address);
  }
  if (directed.length > 0) await forgetDirected(ctx, user);
  if (!broadcast) return;
  const sessions = await ctx.sessions(user.bare);
  const targets = sessions.filter((s) => s.available && s.resource !== user.resource);
  if (session !== undefined && stanza !== undefined) targets.push(session);
  await Promise.all(targets.map((s) => ctx.deliver(s, readdress(presence, user.toString(), s.jid))));
}

/** A `closed` session event: the unavailable presence the client did not send (§4.5.2), and its flags go. */
export async function sessionClosed(ctx: ImContext, event: SessionEvent): Promise<void> {
  const user = parseAddress(event.jid);
  if (user === null || user === undefined || user.resource === '' || !ctx.isLocal(user)) return;
  // A session replaced by a newer one on the same resource (RFC 6120 §7.7.2.2 conflict): the
  // resource lives on, and its presence and flags are the new session's now. The events of the
  // two sessions travel in different lanes, so this one may come after the new session's presence.
  const successor = (await ctx.sessions(user.bare)).find((s) => s.resource === user.resource && s.session !== event.session);
  if (successor !== undefined) return;
  await broadcastUnavailable(ctx, undefined, user, undefined);
  await ctx.clearFlags(user.bare, user.resource);
}

/** A session bound (a new one, possibly on a resource a dead session left behind): start clean. */
export async function sessionBound(ctx: ImContext, event: SessionEvent): Promise<void> {
  const user = parseAddress(event.jid);
  if (user === null || user === undefined || user.resource === '' || !ctx.isLocal(user)) return;
  await ctx.clearFlags(user.bare, user.resource);
  await forgetDirected(ctx, user);
  // A stale presence of a session lost without a `closed` event would answer probes for a session that is gone.
  await ctx.store.presence.remove(user.toBareString(), user.resource);
}

/** The user's side of a subscription stanza (§3, Appendix A.2). */
async function outboundSubscriptionStanza(ctx: ImContext, received: ReceivedStanza, type: 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed', user: JID, contact: JID): Promise<void> {
  const account = user.toBareString();
  if (contact.toBareString() === account) return ctx.replyError(received, 'not-allowed', { text: 'a user is always subscribed to their own presence' });
  if (contact.local === '' && ctx.isLocal(contact)) return ctx.replyError(received, 'not-allowed', { text: 'no subscriptions to the server itself' });
  if (await isBlockedBy(ctx, user.bare, contact)) return replyBlocked(ctx, received);
  let decision: OutboundDecision | undefined;
  const result = await ctx.store.roster.update(account, contact.toBareString(), (current) => {
    decision = outboundSubscription(type, current);
    return decision.change;
  });
  if (!result.ok || decision === undefined) {
    return ctx.replyError(received, result.ok ? 'internal-server-error' : result.reason === 'conflict' ? 'internal-server-error' : 'resource-constraint');
  }
  if (result.itemChanged) await pushRosterItem(ctx, user.bare, result.contact.item, contact.toBareString(), result.version);
  if (decision.route) {
    // §3.1.2: subscription stanzas travel between bare JIDs.
    await ctx.send(readdress(received.element, account, contact.toBareString()), user.bare, contact);
  }
  if (decision.sendPresence) await sendCurrentPresence(ctx, user.bare, contact);
  if (decision.sendUnavailable) await sendUnavailablePresence(ctx, user.bare, contact);
}

/** A presence for a local user (from another local user, another server or another service). */
export async function handleInboundPresence(ctx: ImContext, stanza: Element, from: JID, to: JID): Promise<void> {
  const type = stanza.attrs.type;
  if (!(await ctx.exists(to))) {
    // §3.1.3: a request to a user who does not exist is refused with unsubscribed.
    if (type === 'subscribe') await ctx.send(xml('presence', { type: 'unsubscribed', from: to.toBareString(), to: from.toBareString() }), to.bare, from.bare);
    return;
  }
  if (await isBlockedBy(ctx, to.bare, from)) return; // XEP-0191 §3.4: nothing from a blocked entity
  if (isSubscriptionType(type)) return inboundSubscriptionStanza(ctx, stanza, type, from.bare, to.bare);
  if (type === 'probe') return answerProbe(ctx, from, to.bare);
  // Available, unavailable, error: to one connected resource, or to every available resource.
  const sessions = await ctx.sessions(to.bare);
  if (to.resource !== '') {
    const target = sessions.find((s) => s.resource === to.resource);
    if (target !== undefined) await ctx.deliver(target, stanza);
    return; // §8.5.3.2.1: presence to a resource that is not there is dropped
  }
  await Promise.all(sessions.filter((s) => s.available).map((s) => ctx.deliver(s, stanza)));
}

/** §4.3.2: the contact's server answers a probe with the contact's presence, if the prober is subscribed. */
async function answerProbe(ctx: ImContext, prober: JID, contact: JID): Promise<void> {
  const state = await ctx.store.roster.getContact(contact.toBareString(), prober.toBareString());
  if (state.item === null || !hasFrom(state.item.subscription)) return;
  await sendCurrentPresence(ctx, contact, prober);
}

/** The contact's side of a subscription stanza (§3, Appendix A.3); `user` is the local recipient. */
async function inboundSubscriptionStanza(ctx: ImContext, stanza: Element, type: 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed', contact: JID, user: JID): Promise<void> {
  const account = user.toBareString();
  if (contact.toBareString() === account) return;
  const status = type === 'subscribe' ? stanza.getChildText('status') ?? undefined : undefined;
  let decision: InboundDecision | undefined;
  const result = await ctx.store.roster.update(account, contact.toBareString(), (current) => {
    decision = inboundSubscription(type, current, status);
    return decision.change;
  });
  if (!result.ok || decision === undefined) {
    // A full pending list or roster: the request is refused rather than lost silently.
    if (type === 'subscribe') await ctx.send(xml('presence', { type: 'unsubscribed', from: account, to: contact.toBareString() }), user, contact);
    if (!result.ok && result.reason !== 'pending-full' && result.reason !== 'roster-full') ctx.report(new Error(`subscription update failed: ${result.reason}`));
    return;
  }
  if (result.itemChanged) await pushRosterItem(ctx, user, result.contact.item, contact.toBareString(), result.version);
  if (decision.deliver) {
    const sessions = await ctx.sessions(user);
    const delivered = readdress(stanza, contact.toBareString(), account);
    await Promise.all(sessions.filter((s) => s.available).map((s) => ctx.deliver(s, delivered)));
  }
  if (decision.autoReplySubscribed) await ctx.send(xml('presence', { type: 'subscribed', from: account, to: contact.toBareString() }), user, contact);
  if (decision.sendPresence) await sendCurrentPresence(ctx, user, contact);
  if (decision.sendUnavailable) await sendUnavailablePresence(ctx, user, contact);
}

/** Roster JIDs were validated when written; a bad one is a store problem, reported by the caller's catch. */
function parseAddressStrict(value: string): JID {
  const parsed = parseAddress(value);
  if (parsed === null || parsed === undefined) throw new Error(`invalid JID in the roster: ${value}`);
  return parsed;
}

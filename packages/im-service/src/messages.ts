// RFC 6121 §5 and §8.5: message delivery — to a bare JID by priority, to a full JID with the
// fallbacks by type — with offline storage (XEP-0160), carbons (XEP-0280), the archive
// (XEP-0313) and blocking (XEP-0191).
import type { JID } from '@ambrosia/jid';
import type { ReceivedStanza } from '@ambrosia/service-sdk';
import { serialize, xml, type Element } from '@ambrosia/xml';
import { parseAddress } from './addresses.js';
import type { ImContext, UserSession } from './context.js';
import { NS } from './namespaces.js';
import { isBlockedBy, replyBlocked } from './presence.js';
import { readdress } from './stored.js';

function typeOf(stanza: Element): string {
  return stanza.attrs.type ?? 'normal';
}

function hasBody(stanza: Element): boolean {
  return stanza.getChild('body') !== undefined;
}

function hint(stanza: Element, name: string): boolean {
  return stanza.getChild(name, NS.hints) !== undefined;
}

/** XEP-0313 §5 and XEP-0334: one-to-one messages with content are archived unless asked not to. */
function archivable(stanza: Element): boolean {
  const type = typeOf(stanza);
  if (type !== 'chat' && type !== 'normal') return false;
  if (hint(stanza, 'no-store') || hint(stanza, 'no-permanent-store')) return false;
  return hasBody(stanza) || hint(stanza, 'store');
}

/** XEP-0160 §3 and XEP-0334: chat and normal messages with content; chat states alone are not kept. */
function storableOffline(stanza: Element): boolean {
  const type = typeOf(stanza);
  if (type !== 'chat' && type !== 'normal') return false;
  if (hint(stanza, 'no-store')) return false;
  return hasBody(stanza) || hint(stanza, 'store');
}

/** XEP-0280 §6: chat messages (and normal ones with a body), unless private, hinted no-copy or carbons themselves. */
function carbonEligible(stanza: Element): boolean {
  const type = typeOf(stanza);
  if (type !== 'chat' && !(type === 'normal' && hasBody(stanza))) return false;
  if (stanza.getChild('private', NS.carbons) !== undefined || hint(stanza, 'no-copy')) return false;
  return stanza.getChild('sent', NS.carbons) === undefined && stanza.getChild('received', NS.carbons) === undefined;
}

/**
 * Carbon copies to the user's other sessions that enabled carbons (XEP-0280 §7, §8). `known`: the
 * user's sessions when the caller already read them for delivery (one directory read per message).
 */
async function sendCarbons(ctx: ImContext, user: JID, stanza: Element, direction: 'sent' | 'received', except: ReadonlySet<string>, known?: UserSession[]): Promise<void> {
  if (!ctx.features.carbons || !carbonEligible(stanza)) return;
  const sessions = (known ?? (await ctx.sessions(user.bare))).filter((s) => !except.has(s.session));
  await Promise.all(
    sessions.map(async (s) => {
      if (!(await ctx.flags(user.bare, s.resource)).has('carbons')) return;
      const copy = xml('message', { from: user.toBareString(), to: s.jid, type: stanza.attrs.type }, xml(direction, { xmlns: NS.carbons }, xml('forwarded', { xmlns: NS.forward }, stanza)));
      await ctx.deliver(s, copy);
    }),
  );
}

/** A message the user's client sent. */
export async function handleClientMessage(ctx: ImContext, received: ReceivedStanza, user: JID, session: UserSession): Promise<void> {
  const parsed = parseAddress(received.element.attrs.to);
  if (parsed === null) return ctx.replyError(received, 'jid-malformed');
  const to = parsed ?? user.bare; // RFC 6120 §10.3.1: no 'to' means the user's own bare JID
  if (await isBlockedBy(ctx, user.bare, to)) return replyBlocked(ctx, received);
  const stanza = readdress(received.element, user.toString(), to.toString());
  if (to.toBareString() !== user.toBareString()) {
    if (ctx.features.archive && to.local !== '' && archivable(stanza)) await archive(ctx, user, to, 'out', stanza);
    await sendCarbons(ctx, user, stanza, 'sent', new Set([session.session]));
  }
  await ctx.send(stanza, user, to);
}

async function archive(ctx: ImContext, owner: JID, other: JID, direction: 'in' | 'out', stanza: Element): Promise<string | undefined> {
  const text = serialize(stanza);
  if (Buffer.byteLength(text) > ctx.limits.maxStoredStanzaBytes) return undefined;
  const result = await ctx.store.archive.append(owner.toBareString(), { with: other.toBareString(), direction, xml: text });
  return result.ok ? result.id : undefined;
}

/** A message for a local user, from anyone (§8.5.2, §8.5.3). */
export async function handleInboundMessage(ctx: ImContext, stanza: Element, from: JID, to: JID): Promise<void> {
  const type = typeOf(stanza);
  if (to.local === '') {
    // A message to the server itself (RFC 6120 §10.5: the server handles it): nothing here reads messages.
    if (type !== 'error' && type !== 'headline') await ctx.bounce(stanza, from, to, 'service-unavailable');
    return;
  }
  if (!(await ctx.exists(to))) {
    if (type !== 'error' && type !== 'headline') await ctx.bounce(stanza, from, to, 'service-unavailable');
    return;
  }
  // XEP-0191 §3.4: nothing from a blocked entity is delivered; the answer does not reveal the block.
  if (await isBlockedBy(ctx, to.bare, from)) {
    if (type !== 'error' && type !== 'groupchat' && type !== 'headline') await ctx.bounce(stanza, from, to, 'service-unavailable');
    return;
  }
  let delivered = stanza;
  if (ctx.features.archive && archivable(stanza) && from.toBareString() !== to.toBareString()) {
    // XEP-0359 §5: drop stanza-ids claiming to be ours, then add the archive id.
    delivered = readdress(stanza, stanza.attrs.from, stanza.attrs.to);
    for (const child of delivered.getChildren('stanza-id', NS.stanzaId)) {
      if (child.attrs.by === to.toBareString()) delivered.remove(child);
    }
    const id = await archive(ctx, to, from, 'in', stanza);
    if (id !== undefined) delivered.append(xml('stanza-id', { xmlns: NS.stanzaId, by: to.toBareString(), id }));
  }
  const sessions = await ctx.sessions(to.bare);
  if (to.resource !== '') {
    const target = sessions.find((s) => s.resource === to.resource);
    if (target !== undefined) {
      await ctx.deliver(target, delivered);
      await sendCarbons(ctx, to, delivered, 'received', new Set([target.session]), sessions);
      return;
    }
    // §8.5.3.2.1: no such resource — groupchat is refused, error dropped, the rest goes to the bare JID.
    if (type === 'groupchat') return ctx.bounce(stanza, from, to, 'service-unavailable');
    if (type === 'error') return;
  }
  await deliverToBare(ctx, delivered, from, to.bare, sessions);
}

/** §8.5.2.1: the available resources with non-negative priority decide. */
async function deliverToBare(ctx: ImContext, stanza: Element, from: JID, to: JID, sessions: UserSession[]): Promise<void> {
  const type = typeOf(stanza);
  if (type === 'groupchat') return ctx.bounce(stanza, from, to, 'service-unavailable');
  if (type === 'error') return;
  const candidates = sessions.filter((s) => s.available && s.priority >= 0);
  if (type === 'headline') {
    // §8.5.2.1.1: headlines go to every such resource, and are dropped when there is none.
    await Promise.all(candidates.map((s) => ctx.deliver(s, stanza)));
    return;
  }
  if (candidates.length > 0) {
    // Chat and normal: the highest priority wins; on a tie every one of them gets it (§8.5.2.1.1
    // lets the server choose; all tied resources avoid guessing which device the user holds).
    const top = Math.max(...candidates.map((s) => s.priority));
    const targets = candidates.filter((s) => s.priority === top);
    await Promise.all(targets.map((s) => ctx.deliver(s, stanza)));
    await sendCarbons(ctx, to, stanza, 'received', new Set(targets.map((s) => s.session)), sessions);
    return;
  }
  // §8.5.2.2: no available resource — offline storage (XEP-0160), or service-unavailable.
  if (!storableOffline(stanza)) return;
  if (!ctx.features.offline) return ctx.bounce(stanza, from, to, 'service-unavailable');
  const text = serialize(stanza);
  if (Buffer.byteLength(text) > ctx.limits.maxStoredStanzaBytes) return ctx.bounce(stanza, from, to, 'service-unavailable');
  const stored = await ctx.store.offline.push(to.toBareString(), text);
  if (!stored.ok) await ctx.bounce(stanza, from, to, 'service-unavailable', { text: 'offline storage full' });
}

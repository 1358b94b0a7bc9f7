// XEP-0191 blocking command: the blocklist, block and unblock with pushes, and the presence that
// a block takes back and an unblock gives again (§3.3, §3.4).
import { StanzaError } from '@ambrosia/errors';
import { tryParseJID, type JID } from '@ambrosia/jid';
import type { ReceivedStanza } from '@ambrosia/service-sdk';
import { xml, type Element } from '@ambrosia/xml';
import type { ImContext } from '../context.js';
import { NS } from '../namespaces.js';
import { sendCurrentPresence, sendUnavailablePresence } from '../presence.js';
import { iqResult } from './iq-helpers.js';

function itemsOf(command: Element): { jids: string[] } | { error: StanzaError } {
  const jids: string[] = [];
  for (const item of command.getChildren('item')) {
    const parsed = item.attrs.jid === undefined ? undefined : tryParseJID(item.attrs.jid);
    if (parsed === undefined) return { error: new StanzaError('jid-malformed') };
    jids.push(parsed.toString());
  }
  return { jids: [...new Set(jids)] };
}

async function push(ctx: ImContext, user: JID, name: 'block' | 'unblock', jids: readonly string[]): Promise<void> {
  const sessions = await ctx.sessions(user.bare);
  await Promise.all(
    sessions.map((s) =>
      ctx.deliver(s, xml('iq', { type: 'set', id: `push-${ctx.newId()}`, to: s.jid }, xml(name, { xmlns: NS.blocking }, jids.map((jid) => xml('item', { jid }))))),
    ),
  );
}

/** Roster contacts with a subscription to the user's presence among `jids` (bare JIDs only: what presence goes to). */
async function subscribersAmong(ctx: ImContext, user: JID, jids: readonly string[]): Promise<JID[]> {
  const out: JID[] = [];
  for (const jid of jids) {
    const parsed = tryParseJID(jid);
    if (parsed === undefined || parsed.local === '' || parsed.resource !== '') continue;
    const state = await ctx.store.roster.getContact(user.toBareString(), parsed.toBareString());
    if (state.item?.subscription === 'from' || state.item?.subscription === 'both') out.push(parsed);
  }
  return out;
}

export async function handleBlockingIq(ctx: ImContext, received: ReceivedStanza, user: JID, payload: Element): Promise<void> {
  const iq = received.element;
  const account = user.toBareString();
  if (iq.attrs.type === 'get') {
    if (payload.name !== 'blocklist') return ctx.replyError(received, 'bad-request');
    const list = await ctx.store.blocking.list(account);
    return ctx.reply(received, iqResult(iq, xml('blocklist', { xmlns: NS.blocking }, list.map((jid) => xml('item', { jid })))));
  }
  if (payload.name !== 'block' && payload.name !== 'unblock') return ctx.replyError(received, 'bad-request');
  const parsed = itemsOf(payload);
  if ('error' in parsed) return ctx.replyError(received, parsed.error.condition);
  const { jids } = parsed;
  if (jids.length > ctx.limits.maxBlockItemsPerRequest) return ctx.replyError(received, 'bad-request', { text: `at most ${ctx.limits.maxBlockItemsPerRequest} items` });
  if (payload.name === 'block') {
    // §3.3: a block must name at least one JID.
    if (jids.length === 0) return ctx.replyError(received, 'bad-request', { text: 'nothing to block' });
    const result = await ctx.store.blocking.add(account, jids);
    if (!result.ok) return ctx.replyError(received, 'resource-constraint', { text: `blocklist full (${result.limit})` });
    await ctx.reply(received, iqResult(iq));
    if (result.added.length > 0) {
      await push(ctx, user, 'block', result.added);
      for (const contact of await subscribersAmong(ctx, user, result.added)) await sendUnavailablePresence(ctx, user.bare, contact);
    }
    return;
  }
  // §3.4 unblock, §3.5 unblock all.
  const removed = jids.length === 0 ? await ctx.store.blocking.clear(account) : await ctx.store.blocking.remove(account, jids);
  await ctx.reply(received, iqResult(iq));
  if (removed.length > 0) {
    await push(ctx, user, 'unblock', jids.length === 0 ? [] : removed);
    for (const contact of await subscribersAmong(ctx, user, removed)) await sendCurrentPresence(ctx, user.bare, contact);
  }
}

// RFC 6121 §4.6: the entities a resource sent directed available presence to, so that its
// unavailable presence (sent, or implied by a closed session) reaches them too (§4.6.3). Kept in
// the user's private XML storage under a reserved namespace (element name = resource), like the
// session flags: any instance can read it, and it is bounded.
import type { JID } from '@ambrosia/jid';
import type { ImContext } from './context.js';

export const DIRECTED_NAMESPACE = 'urn:ambrosia:im:directed';

export async function directedTargets(ctx: ImContext, user: JID): Promise<string[]> {
  const raw = await ctx.store.privateXml.get(user.toBareString(), user.resource, DIRECTED_NAMESPACE);
  return raw === null || raw === '' ? [] : raw.split('\n');
}

/** Remembers (available) or forgets (unavailable) one target; the oldest go beyond the bound. */
export async function trackDirected(ctx: ImContext, user: JID, target: JID, available: boolean): Promise<void> {
  const current = await directedTargets(ctx, user);
  const jid = target.toString();
  const next = current.filter((t) => t !== jid);
  if (available) next.push(jid);
  while (next.length > ctx.limits.maxDirectedPresences) next.shift();
  if (next.length === current.length && next.every((t, i) => t === current[i])) return;
  const account = user.toBareString();
  if (next.length === 0) {
    await ctx.store.privateXml.remove(account, user.resource, DIRECTED_NAMESPACE);
    return;
  }
  const result = await ctx.store.privateXml.set(account, user.resource, DIRECTED_NAMESPACE, next.join('\n'));
  if (!result.ok) ctx.report(new Error(`directed presence of ${user.toString()} not tracked: ${result.reason}`));
}

export async function forgetDirected(ctx: ImContext, user: JID): Promise<void> {
  await ctx.store.privateXml.remove(user.toBareString(), user.resource, DIRECTED_NAMESPACE);
}

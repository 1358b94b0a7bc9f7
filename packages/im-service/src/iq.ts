// RFC 6121 §8.5 for iq: what the server answers itself (its own domain, §8.5.1 on behalf of an
// account), what it hands to a resource (§8.5.3), and the errors in between.
import { isStanzaError, StanzaError } from '@ambrosia/errors';
import type { JID } from '@ambrosia/jid';
import type { ReceivedStanza } from '@ambrosia/service-sdk';
import type { Element } from '@ambrosia/xml';
import { parseAddress } from './addresses.js';
import type { ImContext, UserSession } from './context.js';
import { handleBlockingIq } from './features/blocking.js';
import { accountInfo, domainInfo, emptyItems, versionResult } from './features/disco.js';
import { iqPayload, iqResult } from './features/iq-helpers.js';
import { handleMamIq } from './features/mam.js';
import { handleRegisterIq } from './features/register.js';
import { handlePrivate, readVCard, writeVCard } from './features/storage.js';
import { NS } from './namespaces.js';
import { isBlockedBy, replyBlocked } from './presence.js';
import { handleRosterIq } from './roster.js';
import { readdress } from './stored.js';

const IQ_TYPES = new Set(['get', 'set', 'result', 'error']);

/** An iq the user's client sent. */
export async function handleClientIq(ctx: ImContext, received: ReceivedStanza, user: JID, session: UserSession): Promise<void> {
  const iq = received.element;
  const type = iq.attrs.type;
  if (type === undefined || !IQ_TYPES.has(type) || iq.attrs.id === undefined) return ctx.replyError(received, 'bad-request', { text: 'an iq needs an id and a type' });
  const to = parseAddress(iq.attrs.to);
  if (to === null) return ctx.replyError(received, 'jid-malformed');
  if (to === undefined || (to.resource === '' && to.toBareString() === user.toBareString())) return ownAccountIq(ctx, received, user, session);
  if (ctx.isLocal(to) && to.local === '' && to.resource === '') {
    // XEP-0077 §3.2, §3.3: addressed to the server, about the sender's own account.
    const payload = iqPayload(iq);
    if (payload?.attrs.xmlns === NS.register && payload.name === 'query' && to.domain === user.domain && (type === 'get' || type === 'set')) {
      return handleRegisterIq(ctx, received, user, payload);
    }
    const answer = await domainIq(ctx, iq);
    if (answer !== undefined) await answerTo(ctx, received, iq, answer);
    return;
  }
  if (await isBlockedBy(ctx, user.bare, to)) return replyBlocked(ctx, received);
  await ctx.send(readdress(iq, user.toString(), to.toString()), user, to);
}

async function answerTo(ctx: ImContext, received: ReceivedStanza, iq: Element, answer: Element | null | StanzaError): Promise<void> {
  if (isStanzaError(answer)) return ctx.replyError(received, answer.condition, answer.text === undefined ? {} : { text: answer.text });
  await ctx.reply(received, iqResult(iq, answer ?? undefined));
}

/** §8.5.1 with the user as sender: the user's own account. */
async function ownAccountIq(ctx: ImContext, received: ReceivedStanza, user: JID, session: UserSession): Promise<void> {
  const iq = received.element;
  const type = iq.attrs.type;
  if (type !== 'get' && type !== 'set') return; // results and errors for the account itself go nowhere
  const payload = iqPayload(iq);
  if (payload === undefined) return ctx.replyError(received, 'bad-request', { text: 'an iq get or set carries exactly one element' });
  const ns = payload.attrs.xmlns;
  switch (ns) {
    case NS.roster:
      if (payload.name !== 'query') break;
      return handleRosterIq(ctx, received, user, session);
    case NS.blocking:
      if (!ctx.features.blocking) break;
      return handleBlockingIq(ctx, received, user, payload);
    case NS.mam:
      if (!ctx.features.archive) break;
      return handleMamIq(ctx, received, user, payload);
    case NS.carbons: {
      if (!ctx.features.carbons || type !== 'set' || (payload.name !== 'enable' && payload.name !== 'disable')) break;
      const ok = await ctx.setFlag(user.bare, user.resource, 'carbons', payload.name === 'enable');
      if (!ok) return ctx.replyError(received, 'resource-constraint', { text: 'private storage full' });
      return ctx.reply(received, iqResult(iq));
    }
    case NS.vcard: {
      if (!ctx.features.vcard || payload.name !== 'vCard') break;
      if (type === 'get') return answerTo(ctx, received, iq, await readVCard(ctx, user.bare));
      const error = await writeVCard(ctx, user.bare, payload);
      return answerTo(ctx, received, iq, error ?? null);
    }
    case NS.private:
      if (!ctx.features.privateXml || payload.name !== 'query') break;
      return answerTo(ctx, received, iq, await handlePrivate(ctx, user.bare, type, payload));
    case NS.discoInfo:
      if (type !== 'get') break;
      return answerTo(ctx, received, iq, accountInfo(ctx, payload.attrs.node));
    case NS.discoItems:
      if (type !== 'get') break;
      return answerTo(ctx, received, iq, emptyItems(payload.attrs.node));
    case NS.ping:
      if (type !== 'get') break;
      return answerTo(ctx, received, iq, null);
    case NS.register:
      if (payload.name !== 'query') break;
      return handleRegisterIq(ctx, received, user, payload);
  }
  // §8.5.1: nothing here for that namespace.
  return ctx.replyError(received, 'service-unavailable');
}

/** The server's own iqs (to the domain JID); undefined: nothing to answer (results, errors). */
async function domainIq(ctx: ImContext, iq: Element): Promise<Element | null | StanzaError | undefined> {
  const type = iq.attrs.type;
  if (type !== 'get' && type !== 'set') return undefined;
  const payload = iqPayload(iq);
  if (payload === undefined) return new StanzaError('bad-request', { text: 'an iq get or set carries exactly one element' });
  if (type === 'get') {
    switch (payload.attrs.xmlns) {
      case NS.discoInfo:
        return domainInfo(ctx, payload.attrs.node);
      case NS.discoItems:
        return emptyItems(payload.attrs.node);
      case NS.ping:
        return null;
      case NS.version:
        return versionResult(ctx);
    }
  }
  // In-band registration (XEP-0077) is off: service-unavailable, as for any unknown namespace.
  return new StanzaError('service-unavailable');
}

/** An iq for a local address, from anyone but the account itself (other users, servers, services). */
export async function handleInboundIq(ctx: ImContext, iq: Element, from: JID, to: JID): Promise<void> {
  const type = iq.attrs.type;
  const request = type === 'get' || type === 'set';
  const answer = async (result: Element | null | StanzaError | undefined) => {
    if (result === undefined) return;
    if (isStanzaError(result)) return ctx.bounce(iq, from, to, result.condition, result.text === undefined ? {} : { text: result.text });
    const reply = iqResult(iq, result ?? undefined);
    reply.attrs.from = to.toString();
    reply.attrs.to = from.toString();
    await ctx.send(reply, to, from);
  };
  if (to.local === '') return to.resource === '' ? answer(await domainIq(ctx, iq)) : request ? answer(new StanzaError('service-unavailable')) : undefined;
  if (!(await ctx.exists(to)) || (await isBlockedBy(ctx, to.bare, from))) return request ? answer(new StanzaError('service-unavailable')) : undefined;
  if (to.resource !== '') {
    // §8.5.3.1: to the connected resource; §8.5.3.2.1: service-unavailable when there is none.
    const target = (await ctx.sessions(to.bare)).find((s) => s.resource === to.resource);
    if (target !== undefined) await ctx.deliver(target, iq);
    else if (request) await answer(new StanzaError('service-unavailable'));
    return;
  }
  if (!request) return;
  const payload = iqPayload(iq);
  if (payload === undefined) return answer(new StanzaError('bad-request'));
  const self = from.toBareString() === to.toBareString();
  switch (payload.attrs.xmlns) {
    case NS.discoInfo:
    case NS.discoItems: {
      if (type !== 'get') break;
      // Only the user and their presence subscribers learn what the account offers.
      const state = self ? undefined : await ctx.store.roster.getContact(to.toBareString(), from.toBareString());
      const subscribed = self || state?.item?.subscription === 'from' || state?.item?.subscription === 'both';
      if (!subscribed) break;
      return answer(payload.attrs.xmlns === NS.discoInfo ? accountInfo(ctx, payload.attrs.node) : emptyItems(payload.attrs.node));
    }
    case NS.vcard:
      if (!ctx.features.vcard || payload.name !== 'vCard') break;
      if (type === 'set') return answer(new StanzaError('forbidden', { text: "only the owner changes a vCard" }));
      return answer(await readVCard(ctx, to.bare));
    case NS.ping:
      if (type !== 'get') break;
      return answer(null);
    case NS.roster:
    case NS.private:
    case NS.mam:
    case NS.blocking:
      // A user can never read or change another user's roster, storage, archive or blocklist.
      return answer(new StanzaError('forbidden'));
  }
  return answer(new StanzaError('service-unavailable'));
}

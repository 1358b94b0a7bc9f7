// XEP-0077 in-band registration, as far as a service behind the gateway can take part: an
// authenticated user changes their password (§3.3) or cancels their account (§3.2). Creating an
// account happens before authentication, on the gateway's side of the stream, so not here. Off
// unless a registrar is given.
import { prepLocalpart, type JID } from '@ambrosia/jid';
import type { ReceivedStanza } from '@ambrosia/service-sdk';
import { xml, type Element } from '@ambrosia/xml';
import type { ImContext } from '../context.js';
import { NS } from '../namespaces.js';
import { iqResult } from './iq-helpers.js';

/** What the account system offers the IM service (createImService wires @ambrosia/auth over the registry). */
export interface AccountRegistrar {
  /** XEP-0077 §3.3. Rejects with an error whose `code` is ERR_AUTH_INVALID_PASSWORD for an unacceptable password. */
  changePassword(bareJid: string, password: string): Promise<void>;
  /** XEP-0077 §3.2: the credentials go (the service removes the account's IM data itself). */
  remove(bareJid: string): Promise<void>;
}

export async function handleRegisterIq(ctx: ImContext, received: ReceivedStanza, user: JID, query: Element): Promise<void> {
  const registrar = ctx.registrar;
  if (registrar === undefined) return ctx.replyError(received, 'service-unavailable');
  const iq = received.element;
  if (iq.attrs.type === 'get') {
    // §3.1: an account that exists says so, with its username.
    return ctx.reply(received, iqResult(iq, xml('query', { xmlns: NS.register }, xml('registered'), xml('username', null, user.local), xml('password'))));
  }
  if (query.getChild('remove') !== undefined) {
    // §3.2: the credentials first (no new login), then the IM data, then the answer. Ending the
    // account's live sessions is the gateway's business (an admin kick), not the service's.
    await registrar.remove(user.toBareString());
    await ctx.store.deleteAccount(user.toBareString());
    await ctx.reply(received, iqResult(iq));
    return;
  }
  const username = query.getChildText('username');
  const password = query.getChildText('password');
  if (username === null || password === null) return ctx.replyError(received, 'bad-request', { text: 'username and password, or remove' });
  // §3.3: only one's own password.
  let prepared: string | undefined;
  try {
    prepared = prepLocalpart(username);
  } catch {
    prepared = undefined;
  }
  if (prepared !== user.local) return ctx.replyError(received, 'not-authorized', { text: 'not your account' });
  if (password === '') return ctx.replyError(received, 'not-acceptable', { text: 'empty password' });
  try {
    await registrar.changePassword(user.toBareString(), password);
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_AUTH_INVALID_PASSWORD') return ctx.replyError(received, 'not-acceptable', { text: 'password refused' });
    throw e;
  }
  await ctx.reply(received, iqResult(iq));
}

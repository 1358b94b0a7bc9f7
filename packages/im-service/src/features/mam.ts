// XEP-0313 message archive management (urn:xmpp:mam:2) with XEP-0059 result set paging over the
// store's archive: the query form, the results as forwarded messages, then <fin/>.
import { isStanzaError, StanzaError } from '@ambrosia/errors';
import type { ArchiveQuery } from '@ambrosia/im-store';
import { tryParseJID, type JID } from '@ambrosia/jid';
import type { ReceivedStanza } from '@ambrosia/service-sdk';
import { xml, type Element } from '@ambrosia/xml';
import type { ImContext } from '../context.js';
import { NS } from '../namespaces.js';
import { isoStamp } from '../offline.js';
import { parseStored } from '../stored.js';
import { iqResult } from './iq-helpers.js';

/** Results per page when the client does not say (the store caps larger requests at maxArchivePage). */
export const DEFAULT_MAM_PAGE = 50;

const FORM_FIELDS = new Set(['FORM_TYPE', 'with', 'start', 'end']);

export function mamForm(): Element {
  return xml(
    'query',
    { xmlns: NS.mam },
    xml(
      'x',
      { xmlns: NS.dataForms, type: 'form' },
      xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', null, NS.mam)),
      xml('field', { var: 'with', type: 'jid-single' }),
      xml('field', { var: 'start', type: 'text-single' }),
      xml('field', { var: 'end', type: 'text-single' }),
    ),
  );
}

/** XEP-0082 date-time to milliseconds; undefined when malformed. */
function parseDateTime(value: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Reads the query form and the RSM set into a store query (XEP-0313 §4.1, XEP-0059 §2). */
export function parseMamQuery(query: Element): ArchiveQuery | StanzaError {
  const out: ArchiveQuery = {};
  const form = query.getChild('x', NS.dataForms);
  if (form !== undefined) {
    for (const field of form.getChildren('field')) {
      const name = field.attrs.var;
      const value = field.getChildText('value') ?? '';
      if (name === undefined || !FORM_FIELDS.has(name)) return new StanzaError('bad-request', { text: `unsupported field ${String(name)}` });
      if (name === 'FORM_TYPE') {
        if (value !== NS.mam) return new StanzaError('bad-request', { text: 'FORM_TYPE must be urn:xmpp:mam:2' });
      } else if (name === 'with') {
        const jid = tryParseJID(value);
        if (jid === undefined) return new StanzaError('jid-malformed', { text: 'with is not a JID' });
        out.with = jid.toBareString(); // full-JID filtering is not offered: the bare JID's messages
      } else {
        const ms = parseDateTime(value);
        if (ms === undefined) return new StanzaError('bad-request', { text: `${name} is not an XEP-0082 date-time` });
        if (name === 'start') out.start = ms;
        else out.end = ms;
      }
    }
  }
  const set = query.getChild('set', NS.rsm);
  out.max = DEFAULT_MAM_PAGE;
  if (set !== undefined) {
    if (set.getChild('index') !== undefined) return new StanzaError('feature-not-implemented', { text: 'RSM index is not supported' });
    const max = set.getChildText('max');
    if (max !== null) {
      if (!/^\d{1,9}$/.test(max)) return new StanzaError('bad-request', { text: 'RSM max must be a non-negative integer' });
      out.max = Number(max);
    }
    const after = set.getChild('after');
    if (after !== undefined) {
      const text = after.getText();
      if (text === '') return new StanzaError('bad-request', { text: 'RSM after must name an item' });
      out.after = text;
    }
    const before = set.getChild('before');
    if (before !== undefined) out.before = before.getText(); // empty: the last page (XEP-0059 §2.5)
  }
  return out;
}

export async function handleMamIq(ctx: ImContext, received: ReceivedStanza, owner: JID, query: Element): Promise<void> {
  const iq = received.element;
  if (iq.attrs.type === 'get') return ctx.reply(received, iqResult(iq, mamForm()));
  if (query.name !== 'query') return ctx.replyError(received, 'feature-not-implemented', { text: 'archive preferences are not supported' });
  const parsed = parseMamQuery(query);
  if (isStanzaError(parsed)) return ctx.replyError(received, parsed.condition, parsed.text === undefined ? {} : { text: parsed.text });
  const account = owner.toBareString();
  const result = await ctx.store.archive.query(account, parsed);
  if (!result.ok) return ctx.replyError(received, 'item-not-found', { text: 'no such archive id' }); // XEP-0059 §2.4
  const queryid = query.attrs.queryid;
  for (const message of result.messages) {
    let original: Element;
    try {
      original = parseStored(message.xml);
    } catch (e) {
      ctx.report(e);
      continue;
    }
    await ctx.reply(
      received,
      xml(
        'message',
        { to: received.origin, from: account, id: ctx.newId() },
        xml('result', { xmlns: NS.mam, queryid, id: message.id }, xml('forwarded', { xmlns: NS.forward }, xml('delay', { xmlns: NS.delay, stamp: isoStamp(message.stamp) }), original)),
      ),
    );
  }
  const rsm = xml(
    'set',
    { xmlns: NS.rsm },
    result.first === undefined ? null : xml('first', null, result.first),
    result.last === undefined ? null : xml('last', null, result.last),
    xml('count', null, String(result.count)),
  );
  await ctx.reply(received, iqResult(iq, xml('fin', { xmlns: NS.mam, complete: result.complete ? 'true' : undefined }, rsm)));
}

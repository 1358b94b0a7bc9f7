// Builders for the stanzas a client sends: used by this package's tests and meant for the
// end-to-end tests at the repository root, which speak to the same service through a real gateway.
import { xml, type Element } from '@ambrosia/xml';
import { NS } from './namespaces.js';

let counter = 0;
const nextId = (prefix: string) => `${prefix}-${++counter}`;

export interface PresenceInput {
  to?: string;
  type?: 'unavailable' | 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed' | 'probe' | 'error';
  show?: 'away' | 'chat' | 'dnd' | 'xa';
  status?: string;
  priority?: number;
}

export function presence(input: PresenceInput = {}): Element {
  return xml(
    'presence',
    { to: input.to, type: input.type },
    input.show === undefined ? null : xml('show', null, input.show),
    input.status === undefined ? null : xml('status', null, input.status),
    input.priority === undefined ? null : xml('priority', null, String(input.priority)),
  );
}

export function message(to: string | undefined, body: string | undefined, options: { type?: string; id?: string; children?: Element[] } = {}): Element {
  return xml('message', { to, type: options.type ?? 'chat', id: options.id ?? nextId('m') }, body === undefined ? null : xml('body', null, body), options.children ?? []);
}

export function iq(type: 'get' | 'set', payload: Element | null, options: { to?: string; id?: string } = {}): Element {
  return xml('iq', { type, id: options.id ?? nextId('iq'), to: options.to }, payload);
}

export function rosterGet(ver?: string): Element {
  return iq('get', xml('query', { xmlns: NS.roster, ver }));
}

export function rosterSet(jid: string, item: { name?: string; groups?: string[]; subscription?: string; attrs?: Record<string, string> } = {}): Element {
  return iq(
    'set',
    xml('query', { xmlns: NS.roster }, xml('item', { jid, name: item.name, subscription: item.subscription, ...item.attrs }, (item.groups ?? []).map((g) => xml('group', null, g)))),
  );
}

export function rosterRemove(jid: string): Element {
  return rosterSet(jid, { subscription: 'remove' });
}

export function blocklistGet(): Element {
  return iq('get', xml('blocklist', { xmlns: NS.blocking }));
}

export function block(jids: readonly string[]): Element {
  return iq('set', xml('block', { xmlns: NS.blocking }, jids.map((jid) => xml('item', { jid }))));
}

export function unblock(jids: readonly string[] = []): Element {
  return iq('set', xml('unblock', { xmlns: NS.blocking }, jids.map((jid) => xml('item', { jid }))));
}

export function carbons(enable: boolean): Element {
  return iq('set', xml(enable ? 'enable' : 'disable', { xmlns: NS.carbons }));
}

export function vcardGet(to?: string): Element {
  return iq('get', xml('vCard', { xmlns: NS.vcard }), { to });
}

export function vcardSet(...children: Element[]): Element {
  return iq('set', xml('vCard', { xmlns: NS.vcard }, children));
}

export function privateGet(name: string, namespace: string, to?: string): Element {
  return iq('get', xml('query', { xmlns: NS.private }, xml(name, { xmlns: namespace })), { to });
}

export function privateSet(element: Element): Element {
  return iq('set', xml('query', { xmlns: NS.private }, element));
}

export function discoInfo(to?: string): Element {
  return iq('get', xml('query', { xmlns: NS.discoInfo }), { to });
}

export function discoItems(to?: string): Element {
  return iq('get', xml('query', { xmlns: NS.discoItems }), { to });
}

export function ping(to?: string): Element {
  return iq('get', xml('ping', { xmlns: NS.ping }), { to });
}

export function versionGet(to: string): Element {
  return iq('get', xml('query', { xmlns: NS.version }), { to });
}

export interface MamQueryInput {
  with?: string;
  start?: string;
  end?: string;
  max?: number | string;
  after?: string;
  before?: string;
  index?: number;
  queryid?: string;
  extraField?: string;
  to?: string;
}

export function mamQuery(input: MamQueryInput = {}): Element {
  const fields: Element[] = [xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', null, NS.mam))];
  for (const name of ['with', 'start', 'end'] as const) {
    const value = input[name];
    if (value !== undefined) fields.push(xml('field', { var: name }, xml('value', null, value)));
  }
  if (input.extraField !== undefined) fields.push(xml('field', { var: input.extraField }, xml('value', null, 'x')));
  const rsm =
    input.max === undefined && input.after === undefined && input.before === undefined && input.index === undefined
      ? null
      : xml(
          'set',
          { xmlns: NS.rsm },
          input.max === undefined ? null : xml('max', null, String(input.max)),
          input.after === undefined ? null : xml('after', null, input.after),
          input.before === undefined ? null : xml('before', null, input.before),
          input.index === undefined ? null : xml('index', null, String(input.index)),
        );
  return iq('set', xml('query', { xmlns: NS.mam, queryid: input.queryid }, xml('x', { xmlns: NS.dataForms, type: 'submit' }, fields), rsm), { to: input.to });
}

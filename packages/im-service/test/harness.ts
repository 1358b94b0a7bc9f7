// Shared test setup: an ImService on a FakeDomainService (the seam that records what the service
// sends and plays the session directory) and a real ImStore (memory, or Redis in redis.test.ts).
import { randomUUID } from 'node:crypto';
import type { ImStore } from '@ambrosia/im-store';
import type { Element } from '@ambrosia/xml';
import { ImService, type ImServiceOptions } from '../src/index.js';
import { FakeDomainService, presence, type FakeSession } from '../src/testing.js';

export const DOMAIN = 'example.com';

export interface Harness {
  fake: FakeDomainService;
  store: ImStore;
  im: ImService;
  errors: Error[];
  /** Unique bare JIDs for this test: `user('juliet')` → juliet-1a2b3c@example.com. */
  user(name: string): string;
  /** Connects a session and sends initial presence; returns it with its inbox emptied. */
  online(fullJid: string, priority?: number): Promise<FakeSession>;
}

export type StoreFactory = () => Promise<{ store: ImStore; cleanup(): Promise<void> }>;

export async function makeHarness(store: ImStore, options: Partial<ImServiceOptions> = {}): Promise<Harness> {
  const fake = new FakeDomainService();
  const errors: Error[] = [];
  const im = new ImService({ service: fake, store, domains: [DOMAIN], onError: (e) => errors.push(e), ...options });
  im.start();
  fake.settleHook = () => im.idle();
  const suffix = randomUUID().slice(0, 6);
  return {
    fake,
    store,
    im,
    errors,
    user: (name) => `${name}-${suffix}@${DOMAIN}`,
    online: async (fullJid, priority) => {
      const session = await fake.connect(fullJid);
      await session.send(presence(priority === undefined ? {} : { priority }));
      await fake.settle();
      session.take();
      return session;
    },
  };
}

/** A compact description of a stanza for assertions: "presence/unavailable a→b". */
export function describeStanza(el: Element): string {
  const type = el.attrs.type === undefined ? '' : `/${el.attrs.type}`;
  return `${el.name}${type} ${el.attrs.from ?? '-'}→${el.attrs.to ?? '-'}`;
}

export function ofKind(stanzas: readonly Element[], name: string, type?: string): Element[] {
  return stanzas.filter((s) => s.name === name && (type === undefined ? true : (s.attrs.type ?? '') === type));
}

export function errorCondition(stanza: Element | undefined): string | undefined {
  const error = stanza?.getChild('error');
  const condition = error?.children.find((c): c is Element => typeof c !== 'string' && c.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas' && c.name !== 'text');
  return condition?.name;
}

/** The one iq result or error answering `id`. */
export function answerTo(stanzas: readonly Element[], id: string | undefined): Element {
  const found = stanzas.filter((s) => s.name === 'iq' && s.attrs.id === id && (s.attrs.type === 'result' || s.attrs.type === 'error'));
  if (found.length !== 1) throw new Error(`expected one answer to ${id}, got ${found.length}: ${stanzas.map(describeStanza).join(', ')}`);
  return found[0] as Element;
}

export function pushesIn(stanzas: readonly Element[]): Element[] {
  return stanzas.filter((s) => s.name === 'iq' && s.attrs.type === 'set' && s.getChild('query', 'jabber:iq:roster') !== undefined);
}

export function pushedItem(push: Element): Element {
  return push.getChild('query', 'jabber:iq:roster')?.getChild('item') as Element;
}

// XEP-0198 on the real edge: a client that drops and resumes within the window gets every
// unacknowledged stanza exactly once (raw socket transcript), the directory follows the session,
// and a gateway that does not hold the session answers from the registry's resumption record.

import { MemoryStore, createMemoryRegistry } from '@ambrosia/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionDeliveryOutcome } from '../../src/index.js';
import { DOMAIN, addTestUser, eventually, messageTo, rawLogin, startEdge, type TestEdge } from './helpers.js';

describe('stream management resumption (XEP-0198 §5)', () => {
  const store = new MemoryStore();
  let t: TestEdge;
  let other: TestEdge;

  beforeAll(async () => {
    t = await startEdge({ registry: createMemoryRegistry({ store, heartbeatIntervalMs: 0 }) });
    other = await startEdge({ registry: createMemoryRegistry({ store, heartbeatIntervalMs: 0 }) });
    await addTestUser(t.registry, 'juliet');
  });

  afterAll(async () => {
    await t.close();
    await other.close();
    await t.registry.close();
    await other.registry.close();
  });

  it('retransmits every unacknowledged stanza exactly once after a drop', async () => {
    const first = await rawLogin(t, 'juliet', { resource: 'phone', sm: true });
    const fullJid = `juliet@${DOMAIN}/phone`;
    const sessionId = t.edge.table.sessionFor(fullJid)!;
    expect(sessionId).toBeDefined();
    const outcomes: Record<string, SessionDeliveryOutcome[]> = {};
    const deliver = (id: string, body: string) =>
      t.edge.table.deliver(id, messageTo(fullJid, body, body), (o) => (outcomes[body] ??= []).push(o));

    expect(deliver(sessionId, 'one')).toBe('sent');
    expect(deliver(sessionId, 'two')).toBe('sent');
    expect(deliver(sessionId, 'three')).toBe('sent');
    await first.client.until(/<body>three<\/body><\/message>/);
    // The client acknowledges the first only, then its connection dies.
    first.client.send("<a xmlns='urn:xmpp:sm:3' h='1'/>");
    await eventually(() => outcomes.one !== undefined, 2000, 'ack of one');
    first.client.destroy();
    await eventually(() => t.edge.table.get(sessionId)?.stream.state === 'detached', 2000, 'detached');
    // Delivered while detached: queued for the resumed stream.
    expect(deliver(sessionId, 'four')).toBe('queued');
    // The registry learnt the resumption state, for gateways the client might reach instead.
    const record = await t.registry.resumptions.get(first.smId!);
    expect(record).toMatchObject({ fullJid, gatewayId: t.gatewayId, sessionId, outbound: 1 });

    const second = await rawLogin(t, 'juliet', { resume: { previd: first.smId!, h: 1 } });
    expect(second.resumed).toBe(`<resumed xmlns="urn:xmpp:sm:3" previd="${first.smId}" h="0"/>`);
    const replay = await second.client.until(/<r xmlns="urn:xmpp:sm:3"\/>/);
    // Everything between <resumed/> and the server's <r/>: the retransmission.
    const text = replay.input.slice(0, replay.index);
    for (const body of ['two', 'three', 'four']) expect(text.split(`<body>${body}</body>`).length - 1).toBe(1);
    expect(text).not.toContain('<body>one</body>');
    expect(text.indexOf('<body>two</body>')).toBeLessThan(text.indexOf('<body>three</body>'));
    expect(text.indexOf('<body>three</body>')).toBeLessThan(text.indexOf('<body>four</body>'));

    second.client.send("<a xmlns='urn:xmpp:sm:3' h='4'/>");
    await eventually(() => outcomes.four !== undefined, 2000, 'ack of four');
    expect(outcomes).toEqual({ one: ['delivered'], two: ['delivered'], three: ['delivered'], four: ['delivered'] });

    // The directory and the services follow the session to its new stream.
    const newId = t.edge.table.sessionFor(fullJid)!;
    expect(newId).not.toBe(sessionId);
    await eventually(async () => (await t.registry.sessions.get(`juliet@${DOMAIN}`)).some((s) => s.sessionId === newId), 2000, 'rebind');
    const names = t.router.events.filter((e) => e.routingKey === `juliet@${DOMAIN}`).map((e) => e.event.event);
    expect(names).toEqual(['bound', 'detached', 'resumed']);
    expect(t.router.events.at(-1)!.event.previous).toBe(sessionId);
    // Attached again: the record written at detach is gone.
    await eventually(async () => (await t.registry.resumptions.get(first.smId!)) === undefined, 2000, 'record deleted');

    // New deliveries continue on the resumed stream.
    expect(t.edge.table.deliver(newId, messageTo(fullJid, 'five'))).toBe('sent');
    await second.client.until(/<body>five<\/body>/);
    second.client.send('</stream:stream>');
    await second.client.untilClosed();
    await eventually(async () => (await t.registry.sessions.get(`juliet@${DOMAIN}`)).length === 0, 2000, 'unbound');
  });

  it('another gateway answers item-not-found with the last h from the registry', async () => {
    const first = await rawLogin(t, 'juliet', { resource: 'tablet', sm: true });
    first.client.send("<message to='nobody@example.org' id='x1'><body>hi</body></message>");
    first.client.send("<r xmlns='urn:xmpp:sm:3'/>");
    await first.client.until(/<a xmlns="urn:xmpp:sm:3" h="1"\/>/);
    first.client.destroy();
    await eventually(async () => (await other.registry.resumptions.get(first.smId!)) !== undefined, 2000, 'record');
    const elsewhere = await rawLogin(other, 'juliet', { resume: { previd: first.smId!, h: 0 } });
    expect(elsewhere.resumed).toBe('<failed xmlns="urn:xmpp:sm:3" h="1"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>');
    elsewhere.client.destroy();
  });
});

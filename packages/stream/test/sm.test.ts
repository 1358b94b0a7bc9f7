// XEP-0198 stream management: enabling, acknowledgements in both directions (with the inbound
// count following the service's acknowledgements, in order), bounds, resumption with
// retransmission exactly once, failed resumption, and the resumption window.

import { xml } from '@ambrosia/xml';
import { describe, expect, it } from 'vitest';
import type { DeliveryOutcome } from '../src/index.js';
import { ManualClock } from '../src/index.js';
import {
  CLIENT_HEADER,
  FEATURES_BOUND,
  FEATURES_STARTTLS,
  FULL_JID,
  Harness,
  SessionTable,
  authenticate,
  boundHarness,
  credentials,
  serverHeader,
  streamError,
  type HarnessOptions,
} from './helpers.js';

const SM = 'urn:xmpp:sm:3';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

function message(id: string, body = id): ReturnType<typeof xml> {
  return xml('message', { to: FULL_JID, from: 'romeo@example.net/orchard', id }, xml('body', null, body));
}
const wire = (id: string, body = id) => `<message to="${FULL_JID}" from="romeo@example.net/orchard" id="${id}"><body>${body}</body></message>`;

async function enabled(opts: HarnessOptions = {}, resume = false): Promise<{ h: Harness; id: string | undefined }> {
  const h = await boundHarness(opts);
  if (!resume) {
    await h.exchange(`<enable xmlns='${SM}'/>`, `<enabled xmlns="${SM}"/>`);
    return { h, id: undefined };
  }
  const { id } = await h.exchange(`<enable xmlns='${SM}' resume='true'/>`, `<enabled xmlns="${SM}" id="{{id}}" resume="true" max="300"/>`);
  opts.sessions?.remember(h.stream);
  return { h, id };
}

describe('enabling', () => {
  it('enables without resumption, and with resumption bounded by the client and the server', async () => {
    await enabled();
    const sessions = new SessionTable();
    const h = await boundHarness({ sessions });
    const { id } = await h.exchange(`<enable xmlns='${SM}' resume='1' max='60'/>`, `<enabled xmlns="${SM}" id="{{id}}" resume="true" max="60"/>`);
    expect(id!.length).toBeGreaterThanOrEqual(22);
    expect(h.stream.resumptionRecord).toMatchObject({ id, jid: FULL_JID, handled: 0, sent: 0, acked: 0, unacked: 0, resumeTimeoutMs: 60_000, expiresAt: undefined });
  });

  it('does not offer resumption without a resume hook', async () => {
    const h = await boundHarness();
    await h.exchange(`<enable xmlns='${SM}' resume='true'/>`, `<enabled xmlns="${SM}"/>`);
    expect(h.stream.resumptionRecord).toBeUndefined();
  });

  it('fails before binding and refuses a second enable', async () => {
    const h = await Harness.create({ tls: { channelBindings: {} } });
    await authenticate(h);
    await h.exchange(`<enable xmlns='${SM}'/>`, `<failed xmlns="${SM}"><unexpected-request xmlns="${STANZAS}"/></failed>`);
    const { h: twice } = await enabled();
    await twice.exchange(`<enable xmlns='${SM}'/>`, streamError('policy-violation', 'stream management is already enabled'));
  });

  it('answers feature-not-implemented when stream management is switched off', async () => {
    const h = await Harness.create({ tls: { channelBindings: {} }, options: { sm: { enabled: false } } });
    await h.send(CLIENT_HEADER);
    await h.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0juliet\0r0m30myr0m30').toString('base64')}</auth>`);
    h.transport.take();
    // No <sm/> among the features.
    await h.exchange(CLIENT_HEADER, serverHeader() + FEATURES_BOUND.replace(`<sm xmlns="${SM}"/>`, ''));
    await h.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    h.transport.take();
    await h.exchange(`<enable xmlns='${SM}'/>`, `<failed xmlns="${SM}"><feature-not-implemented xmlns="${STANZAS}"/></failed>`);
  });
});

describe('inbound acknowledgements', () => {
  it("counts a stanza only once the service took it, and only as an in-order prefix", async () => {
    const { h } = await enabled({ autoResolve: false });
    await h.send("<message id='1'/><message id='2'/><message id='3'/><message id='4'/><message id='5'/>");
    expect(h.stanzas).toHaveLength(5);
    for (const i of [0, 1, 2, 4]) h.stanzas[i]!.resolve();
    await h.settle();
    // Stanza 4 is still in flight: the <a/> waits for it, at most maxAckDelayMs.
    await h.exchange(`<r xmlns='${SM}'/>`, '');
    h.clock.advance(4999);
    await h.expect('');
    h.clock.advance(1);
    await h.expect(`<a xmlns="${SM}" h="3"/>`);
    h.stanzas[3]!.resolve();
    await h.settle();
    await h.exchange(`<r xmlns='${SM}'/>`, `<a xmlns="${SM}" h="5"/>`);
  });

  it('answers an <r/> as soon as the stanzas before it are handled', async () => {
    const { h } = await enabled({ autoResolve: false });
    await h.send(`<message id='1'/><r xmlns='${SM}'/><message id='2'/><r xmlns='${SM}'/>`);
    await h.expect('');
    h.stanzas[1]!.resolve();
    await h.settle();
    await h.expect('');
    h.stanzas[0]!.resolve();
    await h.settle();
    // Both requests are answered, each with the count as it now stands.
    await h.expect(`<a xmlns="${SM}" h="2"/><a xmlns="${SM}" h="2"/>`);
  });

  it('counts stanzas answered by the stream itself and rejected ones', async () => {
    const { h } = await enabled({ autoResolve: false });
    await h.send("<iq type='get' id='bad'/><message id='m'/>");
    h.stanzas[0]!.reject(new Error('no route'));
    await h.settle();
    await h.expect(
      `<iq xmlns="jabber:client" id="bad" to="${FULL_JID}" type="error"><error type="modify"><bad-request xmlns="${STANZAS}"/><text xmlns="${STANZAS}">an iq get or set carries exactly one child element</text></error></iq>` +
        `<message xmlns="jabber:client" id="m" to="${FULL_JID}" type="error"><error type="cancel"><internal-server-error xmlns="${STANZAS}"/></error></message>`,
    );
    await h.exchange(`<r xmlns='${SM}'/>`, `<a xmlns="${SM}" h="2"/>`);
  });

  it('ignores <r/> and <a/> before stream management is enabled', async () => {
    const h = await boundHarness();
    await h.exchange(`<r xmlns='${SM}'/><a xmlns='${SM}' h='3'/>`, '');
    expect(h.stream.state).toBe('established');
  });
});

describe('outbound acknowledgements', () => {
  it('requests an ack every 5 stanzas, reports acked stanzas and keeps the rest', async () => {
    const { h } = await enabled();
    const outcomes: string[] = [];
    for (let i = 1; i <= 5; i++) {
      expect(h.stream.deliver(message(`m${i}`), { onOutcome: (o) => outcomes.push(`m${i} ${o}`) })).toBe('sent');
    }
    await h.expect([1, 2, 3, 4, 5].map((i) => wire(`m${i}`)).join('') + `<r xmlns="${SM}"/>`);
    await h.exchange(`<a xmlns='${SM}' h='3'/>`, '');
    expect(outcomes).toEqual(['m1 acked', 'm2 acked', 'm3 acked']);
    expect(h.stream.resumptionRecord).toBeUndefined();
    // The rest is reported when the session ends without an ack.
    await h.exchange('</stream:stream>', '</stream:stream>');
    expect(outcomes).toEqual(['m1 acked', 'm2 acked', 'm3 acked', 'm4 undelivered', 'm5 undelivered']);
  });

  it('requests an ack after a delay when fewer stanzas went out', async () => {
    const { h } = await enabled();
    h.stream.deliver(message('m1'));
    await h.expect(wire('m1'));
    h.clock.advance(10_000);
    await h.expect(`<r xmlns="${SM}"/>`);
  });

  it('closes with undefined-condition and handled-count-too-high when the client acks more than sent (XEP-0198 §6)', async () => {
    const { h } = await enabled();
    h.stream.deliver(message('m1'));
    h.stream.deliver(message('m2'));
    h.transport.take();
    await h.exchange(
      `<a xmlns='${SM}' h='7'/>`,
      streamError('undefined-condition', 'acknowledged more stanzas than were sent', `<handled-count-too-high xmlns="${SM}" h="7" send-count="2"/>`),
    );
  });

  it('closes with invalid-xml on a missing or malformed h', async () => {
    const { h } = await enabled();
    await h.exchange(`<a xmlns='${SM}' h='-1'/>`, streamError('invalid-xml', "missing or invalid 'h' attribute"));
  });

  it('bounds the unacknowledged queue: resource-constraint, everything reported undelivered', async () => {
    const { h } = await enabled({ options: { sm: { maxUnackedStanzas: 3, ackRequestEvery: 100 } } });
    const outcomes: DeliveryOutcome[] = [];
    for (let i = 1; i <= 3; i++) expect(h.stream.deliver(message(`m${i}`), { onOutcome: (o) => outcomes.push(o) })).toBe('sent');
    expect(h.stream.deliver(message('m4'), { onOutcome: (o) => outcomes.push(o) })).toBe('refused');
    await h.expect([1, 2, 3].map((i) => wire(`m${i}`)).join('') + streamError('resource-constraint', 'too many unacknowledged stanzas'));
    expect(outcomes).toEqual(['undelivered', 'undelivered', 'undelivered']);
  });

  it('reports unacknowledged for stanzas on a stream without XEP-0198', async () => {
    const h = await boundHarness();
    const outcomes: DeliveryOutcome[] = [];
    expect(h.stream.deliver(message('m1'), { onOutcome: (o) => outcomes.push(o) })).toBe('sent');
    expect(outcomes).toEqual(['unacknowledged']);
  });

  it('refuses delivery before binding and after closing', async () => {
    const h = await Harness.create({ tls: { channelBindings: {} } });
    expect(h.stream.deliver(message('m1'))).toBe('refused');
    const bound = await boundHarness();
    bound.stream.close();
    expect(bound.stream.deliver(message('m1'))).toBe('refused');
  });
});

describe('resumption', () => {
  async function pair(): Promise<{ sessions: SessionTable; clock: ManualClock; accounts: Record<string, Awaited<ReturnType<typeof credentials>>> }> {
    const creds = await credentials();
    return { sessions: new SessionTable(), clock: new ManualClock(5_000_000), accounts: { juliet: creds, romeo: creds } };
  }

  it('detaches on transport loss, then resumes: retransmits the unacked stanzas exactly once', async () => {
    const shared = await pair();
    const { h: first, id } = await enabled({ ...shared, autoResolve: false }, true);
    const outcomes: string[] = [];
    for (const m of ['m1', 'm2', 'm3']) first.stream.deliver(message(m), { onOutcome: (o) => outcomes.push(`${m} ${o}`) });
    await first.expect(wire('m1') + wire('m2') + wire('m3'));
    await first.send(`<a xmlns='${SM}' h='1'/><message id='c1'/><message id='c2'/><message id='c3'/>`);
    first.stanzas[0]!.resolve();
    first.stanzas[2]!.resolve(); // c2 stays in flight across the resumption
    await first.settle();
    first.stream.transportClosed();
    expect(first.events.at(-1)).toBe('detached');
    expect(first.stream.state).toBe('detached');
    expect(first.stream.resumptionRecord).toMatchObject({ id, handled: 1, sent: 3, acked: 1, unacked: 2, expiresAt: 5_000_000 + 300_000 });
    // Stanzas for a detached session are queued for the client.
    expect(first.stream.deliver(message('m4'), { onOutcome: (o) => outcomes.push(`m4 ${o}`) })).toBe('queued');

    const second = await Harness.create({ ...shared, tls: { channelBindings: {} }, autoResolve: false });
    await authenticate(second);
    await second.exchange(
      `<resume xmlns='${SM}' previd='${id}' h='2'/>`,
      `<resumed xmlns="${SM}" previd="${id}" h="1"/>` + wire('m3') + wire('m4') + `<r xmlns="${SM}"/>`,
    );
    expect(outcomes).toEqual(['m1 acked', 'm2 acked']);
    expect(first.closedInfo).toEqual({ reason: 'resumed' });
    expect(second.events).toEqual([`resumed ${FULL_JID}`]);
    expect(second.stream.jid?.toString()).toBe(FULL_JID);
    expect(second.stream.state).toBe('established');

    // The old stream's in-flight stanza resolving now does not count: the client resends
    // everything after h=1 (c2 and c3), and those count on the new stream.
    first.stanzas[1]!.resolve();
    await first.settle();
    await second.exchange(`<message id='c2'/><message id='c3'/><r xmlns='${SM}'/>`, '');
    second.stanzas[0]!.resolve();
    second.stanzas[1]!.resolve();
    await second.settle();
    await second.expect(`<a xmlns="${SM}" h="3"/>`);

    // The retransmitted stanzas are acknowledged on the new stream, and new ones flow.
    await second.exchange(`<a xmlns='${SM}' h='4'/>`, '');
    expect(outcomes).toEqual(['m1 acked', 'm2 acked', 'm3 acked', 'm4 acked']);
    expect(second.stream.deliver(message('m5'))).toBe('sent');
    await second.expect(wire('m5'));
    expect(second.stream.resumptionRecord).toMatchObject({ id, sent: 5, acked: 4, unacked: 1 });
    // Nothing more appears on either stream: each stanza was retransmitted once.
    await first.expect('');
  });

  it('resuming a session whose old stream is still open closes that stream with conflict', async () => {
    const shared = await pair();
    const { h: first, id } = await enabled(shared, true);
    const second = await Harness.create({ ...shared, tls: { channelBindings: {} } });
    await authenticate(second);
    await second.exchange(`<resume xmlns='${SM}' previd='${id}' h='0'/>`, `<resumed xmlns="${SM}" previd="${id}" h="0"/>`);
    await first.expect(streamError('conflict', 'the session was resumed on another connection'));
    expect(first.closedInfo).toEqual({ reason: 'resumed' });
  });

  it('fails with item-not-found for an unknown or expired session; the client can then bind', async () => {
    const shared = await pair();
    shared.sessions.expired.set('old-one', 7);
    const h = await Harness.create({ ...shared, tls: { channelBindings: {} } });
    await authenticate(h);
    await h.exchange(`<resume xmlns='${SM}' previd='nope' h='0'/>`, `<failed xmlns="${SM}"><item-not-found xmlns="${STANZAS}"/></failed>`);
    await h.exchange(`<resume xmlns='${SM}' previd='old-one' h='0'/>`, `<failed xmlns="${SM}" h="7"><item-not-found xmlns="${STANZAS}"/></failed>`);
    await h.exchange(
      "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>",
      `<iq type="result" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>${FULL_JID}</jid></bind></iq>`,
    );
  });

  it("refuses another account's session", async () => {
    const shared = await pair();
    const { h: first, id } = await enabled(shared, true);
    first.stream.transportClosed();
    const thief = await Harness.create({ ...shared, tls: { channelBindings: {} } });
    await authenticate(thief, 'romeo');
    await thief.exchange(`<resume xmlns='${SM}' previd='${id}' h='0'/>`, `<failed xmlns="${SM}"><item-not-found xmlns="${STANZAS}"/></failed>`);
    expect(first.stream.state).toBe('detached');
  });

  it('fails a resumption whose h is too high and ends the old session', async () => {
    const shared = await pair();
    const { h: first, id } = await enabled(shared, true);
    const outcomes: DeliveryOutcome[] = [];
    first.stream.deliver(message('m1'), { onOutcome: (o) => outcomes.push(o) });
    first.stream.transportClosed();
    const second = await Harness.create({ ...shared, tls: { channelBindings: {} } });
    await authenticate(second);
    await second.exchange(
      `<resume xmlns='${SM}' previd='${id}' h='9'/>`,
      `<failed xmlns="${SM}" h="0"><undefined-condition xmlns="${STANZAS}"/><handled-count-too-high xmlns="${SM}" h="9" send-count="1"/></failed>`,
    );
    expect(first.closedInfo).toMatchObject({ reason: 'stream-error', condition: 'undefined-condition' });
    expect(outcomes).toEqual(['undelivered']);
  });

  it('rejects resume before authentication and after binding with unexpected-request', async () => {
    const shared = await pair();
    const before = await Harness.create({ ...shared, tls: { channelBindings: {} } });
    await before.send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>");
    before.transport.take();
    await before.exchange(`<resume xmlns='${SM}' previd='x' h='0'/>`, `<failed xmlns="${SM}"><unexpected-request xmlns="${STANZAS}"/></failed>`);
    const after = await boundHarness(shared);
    await after.exchange(`<resume xmlns='${SM}' previd='x' h='0'/>`, `<failed xmlns="${SM}"><unexpected-request xmlns="${STANZAS}"/></failed>`);
  });

  it('ends a detached session after the resumption window; its stanzas are undelivered', async () => {
    const shared = await pair();
    const { h } = await enabled(shared, true);
    const outcomes: DeliveryOutcome[] = [];
    h.stream.deliver(message('m1'), { onOutcome: (o) => outcomes.push(o) });
    h.stream.transportClosed();
    h.stream.deliver(message('m2'), { onOutcome: (o) => outcomes.push(o) });
    shared.clock.advance(299_999);
    expect(h.stream.state).toBe('detached');
    shared.clock.advance(1);
    expect(h.closedInfo).toEqual({ reason: 'resume-timeout' });
    expect(outcomes).toEqual(['undelivered', 'undelivered']);
    expect(h.stream.deliver(message('m3'))).toBe('refused');
  });

  it('a clean close ends the session: it is not resumable (XEP-0198 §8)', async () => {
    const shared = await pair();
    const { h, id } = await enabled(shared, true);
    await h.exchange('</stream:stream>', '</stream:stream>');
    expect(h.closedInfo).toEqual({ reason: 'normal' });
    const second = await Harness.create({ ...shared, tls: { channelBindings: {} } });
    await authenticate(second);
    await second.exchange(`<resume xmlns='${SM}' previd='${id}' h='0'/>`, `<failed xmlns="${SM}"><item-not-found xmlns="${STANZAS}"/></failed>`);
  });

  it('a session without resumption ends when the transport is lost', async () => {
    const { h } = await enabled();
    h.stream.transportClosed();
    expect(h.closedInfo).toEqual({ reason: 'transport-lost' });
    expect(h.events).not.toContain('detached');
  });
});

describe('identifiers', () => {
  it('uses 128-bit stream ids', async () => {
    const h = await Harness.create();
    const { id } = await h.exchange(CLIENT_HEADER, serverHeader().replace('id="{{*}}"', 'id="{{id}}"') + FEATURES_STARTTLS);
    expect(Buffer.from(id!, 'base64url')).toHaveLength(16);
  });
});

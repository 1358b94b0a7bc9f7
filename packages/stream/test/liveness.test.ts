// XEP-0352 client state, liveness (idle → XEP-0199 ping or XEP-0198 <r/>, then timeout), slow
// readers (send buffer and drain deadline), and the bounds on input held while the stream waits.
// Every timeout runs on the injected ManualClock: nothing sleeps.

import { xml } from '@ambrosia/xml';
import { describe, expect, it } from 'vitest';
import type { DeliveryOutcome } from '../src/index.js';
import {
  CLIENT_HEADER,
  FULL_JID,
  Harness,
  SessionTable,
  authenticate,
  boundHarness,
  featuresSasl,
  serverHeader,
  streamError,
} from './helpers.js';

const SM = 'urn:xmpp:sm:3';
const CSI = 'urn:xmpp:csi:0';

function message(id: string, body = 'x'): ReturnType<typeof xml> {
  return xml('message', { to: FULL_JID, id }, xml('body', null, body));
}

describe('client state indication (XEP-0352)', () => {
  it('reports changes of state, once each', async () => {
    const h = await boundHarness();
    await h.exchange(`<inactive xmlns='${CSI}'/><inactive xmlns='${CSI}'/>`, '');
    await h.exchange(`<active xmlns='${CSI}'/>`, '');
    expect(h.events.slice(1)).toEqual(['client-state inactive', 'client-state active']);
    expect(h.stream.clientState).toBe('active');
  });

  it('remembers a state sent before binding and reports it with the session', async () => {
    const h = await Harness.create({ tls: { channelBindings: {} } });
    await authenticate(h);
    await h.send(`<inactive xmlns='${CSI}'/>`);
    expect(h.events).toEqual([]);
    await h.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>");
    expect(h.events).toEqual([`bound ${FULL_JID}`, 'client-state inactive']);
  });

  it('refuses it before authentication', async () => {
    const h = await Harness.create({ tls: { channelBindings: {} } });
    await h.exchange(CLIENT_HEADER, serverHeader() + featuresSasl());
    await h.exchange(`<inactive xmlns='${CSI}'/>`, streamError('not-authorized', 'authenticate first'));
  });
});

describe('liveness', () => {
  it('pings an idle client (XEP-0199), consumes the pong, and times out a silent one', async () => {
    const h = await boundHarness();
    h.clock.advance(299_999);
    await h.expect('');
    h.clock.advance(1);
    const { ping } = await h.expect(`<iq type="get" id="{{ping}}" from="example.com" to="${FULL_JID}"><ping xmlns="urn:xmpp:ping"/></iq>`);
    await h.exchange(`<iq type='result' id='${ping}' to='example.com'/>`, '');
    expect(h.stanzas).toHaveLength(0);
    h.clock.advance(30_000);
    await h.expect('');
    // Idle again, and this time no answer at all.
    h.clock.advance(300_000);
    await h.expect(`<iq type="get" id="{{*}}" from="example.com" to="${FULL_JID}"><ping xmlns="urn:xmpp:ping"/></iq>`);
    h.clock.advance(29_999);
    await h.expect('');
    h.clock.advance(1);
    await h.expect(streamError('connection-timeout', 'no answer to a liveness probe'));
    expect(h.closedInfo).toMatchObject({ reason: 'stream-error', condition: 'connection-timeout' });
  });

  it('a client that keeps sending (whitespace keepalives) is never pinged', async () => {
    const h = await boundHarness();
    for (let i = 0; i < 10; i++) {
      h.clock.advance(200_000);
      await h.send(' ');
    }
    await h.expect('');
    expect(h.stream.state).toBe('established');
  });

  it('any traffic answers the probe, even without the pong', async () => {
    const h = await boundHarness();
    h.clock.advance(300_000);
    h.transport.take();
    await h.send("<presence/>");
    h.clock.advance(30_000);
    await h.expect('');
    expect(h.stream.state).toBe('established');
  });

  it('probes with <r/> when stream management is on, and detaches a resumable session that stays silent', async () => {
    const sessions = new SessionTable();
    const h = await boundHarness({ sessions });
    await h.exchange(`<enable xmlns='${SM}' resume='true'/>`, `<enabled xmlns="${SM}" id="{{*}}" resume="true" max="300"/>`);
    h.clock.advance(300_000);
    await h.expect(`<r xmlns="${SM}"/>`);
    h.clock.advance(30_000);
    expect(h.stream.state).toBe('detached');
    expect(h.transport.destroyed).toBe(true);
    expect(h.events.at(-1)).toBe('detached');
  });
});

describe('slow readers', () => {
  it('holds output while the transport is congested and flushes it on drain', async () => {
    const h = await boundHarness();
    h.transport.take();
    h.transport.accepting = false;
    expect(h.stream.deliver(message('m1'))).toBe('sent');
    expect(h.stream.deliver(message('m2'))).toBe('queued');
    expect(h.transport.take()).toBe(`<message to="${FULL_JID}" id="m1"><body>x</body></message>`);
    h.transport.accepting = true;
    h.stream.drained();
    expect(h.transport.take()).toBe(`<message to="${FULL_JID}" id="m2"><body>x</body></message>`);
    // The drain deadline was cancelled.
    h.clock.advance(120_000);
    expect(h.stream.state).toBe('established');
  });

  it('cuts a client that does not drain within the deadline (connection-timeout)', async () => {
    const h = await boundHarness();
    h.transport.accepting = false;
    h.stream.deliver(message('m1'));
    h.clock.advance(59_999);
    expect(h.stream.state).toBe('established');
    h.clock.advance(1);
    expect(h.transport.destroyed).toBe(true);
    expect(h.closedInfo).toEqual({ reason: 'stream-error', condition: 'connection-timeout', detail: 'client does not read (drain timeout)' });
  });

  it('cuts a client whose held output exceeds the send buffer', async () => {
    const h = await boundHarness({ options: { maxSendBufferBytes: 1000 } });
    h.transport.accepting = false;
    const results = [];
    for (let i = 0; i < 5; i++) results.push(h.stream.deliver(message(`m${i}`, 'y'.repeat(300))));
    // ~365 bytes each: two fit in the 1000 bytes held, the third does not.
    expect(results).toEqual(['sent', 'queued', 'queued', 'refused', 'refused']);
    expect(h.transport.destroyed).toBe(true);
    expect(h.closedInfo).toMatchObject({ reason: 'stream-error', condition: 'connection-timeout' });
  });

  it('detaches a resumable session instead, keeping the stanzas for retransmission', async () => {
    const sessions = new SessionTable();
    const h = await boundHarness({ sessions, options: { maxSendBufferBytes: 1000 } });
    const { id } = await h.exchange(`<enable xmlns='${SM}' resume='true'/>`, `<enabled xmlns="${SM}" id="{{id}}" resume="true" max="300"/>`);
    sessions.remember(h.stream);
    h.transport.accepting = false;
    const outcomes: DeliveryOutcome[] = [];
    for (let i = 0; i < 5; i++) h.stream.deliver(message(`m${i}`, 'y'.repeat(300)), { onOutcome: (o) => outcomes.push(o) });
    expect(h.stream.state).toBe('detached');
    expect(h.stream.resumptionRecord?.unacked).toBe(5);
    const back = await Harness.create({ sessions, clock: h.clock, tls: { channelBindings: {} } });
    await authenticate(back);
    await back.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    const out = back.transport.take();
    expect(out.match(/<message /g)).toHaveLength(5);
    await back.exchange(`<a xmlns='${SM}' h='5'/>`, '');
    expect(outcomes).toEqual(['acked', 'acked', 'acked', 'acked', 'acked']);
  });

  it('a frozen reader does not hold up another session', async () => {
    const frozen = await boundHarness();
    const lively = await boundHarness();
    frozen.transport.accepting = false;
    for (let i = 0; i < 50; i++) frozen.stream.deliver(message(`f${i}`));
    expect(lively.stream.deliver(message('l1'))).toBe('sent');
    await lively.expect(`<message to="${FULL_JID}" id="l1"><body>x</body></message>`);
    await lively.exchange("<message id='hello'/>", '');
    expect(lively.stanzas).toHaveLength(1);
  });
});

describe('input held while the stream waits', () => {
  it('pauses reading while an asynchronous step runs, and bounds what is held', async () => {
    let release: () => void = () => {};
    const h = await Harness.create({
      tls: { channelBindings: {} },
      options: { maxHeldInputBytes: 4096 },
      bind: () => new Promise((resolve) => (release = () => resolve({ kind: 'bound' }))),
    });
    await authenticate(h);
    h.stream.receive(Buffer.from("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq><presence/>"));
    expect(h.stream.busy).toBe(true);
    expect(h.transport.paused).toBe(true);
    h.stream.receive(Buffer.from(`<message><body>${'z'.repeat(1000)}</body></message>`));
    release();
    await h.settle();
    expect(h.transport.paused).toBe(false);
    expect(h.stanzas.map((s) => s.el.getName())).toEqual(['presence', 'message']);

    const greedy = await Harness.create({
      tls: { channelBindings: {} },
      options: { maxHeldInputBytes: 4096 },
      bind: () => new Promise(() => {}),
    });
    await authenticate(greedy);
    greedy.stream.receive(Buffer.from("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>"));
    greedy.transport.take();
    greedy.stream.receive(Buffer.alloc(4097, 0x20));
    expect(greedy.transport.take()).toBe(streamError('policy-violation', 'too much data sent while the server was busy'));
  });

  it('stops reading while too many stanzas are in flight, and resumes at half', async () => {
    const h = await boundHarness({ autoResolve: false, options: { maxInflightStanzas: 4 } });
    await h.send("<message id='1'/><message id='2'/><message id='3'/><message id='4'/><message id='5'/>");
    // One chunk is parsed whole (the limit is soft by at most one chunk), then reading pauses.
    expect(h.stanzas).toHaveLength(5);
    expect(h.transport.paused).toBe(true);
    h.stream.receive(Buffer.from("<message id='6'/>"));
    expect(h.stanzas).toHaveLength(5);
    for (let i = 0; i < 2; i++) h.stanzas[i]!.resolve();
    await h.settle();
    expect(h.stanzas).toHaveLength(5);
    h.stanzas[2]!.resolve();
    await h.settle();
    expect(h.stanzas).toHaveLength(6);
    expect(h.transport.paused).toBe(false);
  });
});

// Raw-socket transcripts of every stream error the client edge sends, against a real edge on
// 127.0.0.1 (TCP, STARTTLS, PLAIN over TLS, the real MemoryRegistry and @ambrosia/auth). The
// error element, its condition and namespace are pinned byte for byte (RFC 6120 §4.9.2).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOMAIN, RawClient, SERVER_HEADER, addTestUser, eventually, header, rawAuthenticate, rawLogin, startEdge, streamErrorPattern, type TestEdge } from './helpers.js';

function afterHeader(out: string): string {
  expect(out).toMatch(SERVER_HEADER);
  return out.slice(out.indexOf('>', out.indexOf('<stream:stream')) + 1);
}

describe('stream errors on the c2s listener', () => {
  let t: TestEdge;

  beforeAll(async () => {
    t = await startEdge();
    await Promise.all(['juliet', 'romeo', 'nurse', 'tybalt'].map((u) => addTestUser(t.registry, u)));
    await t.registry.seeOtherHost.set('moved.example', 'eu.example.net:5222');
    await t.registry.seeOtherHost.set(`romeo@${DOMAIN}`, '[2001:db8::1]:5222');
  });

  afterAll(async () => {
    await t.close();
  });

  async function closedAfter(...sends: string[]): Promise<string> {
    const client = await RawClient.connect(t.port);
    for (const data of sends) client.send(data);
    return client.untilClosed();
  }

  it('host-unknown: a domain nobody serves (RFC 6120 §4.9.3.6)', async () => {
    const out = await closedAfter(header('unknown.example'));
    expect(afterHeader(out)).toMatch(streamErrorPattern('host-unknown'));
  });

  it('invalid-namespace: a default namespace other than jabber:client (§4.9.3.10)', async () => {
    const out = await closedAfter(`<?xml version='1.0'?><stream:stream to='${DOMAIN}' version='1.0' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>`);
    expect(afterHeader(out)).toMatch(streamErrorPattern('invalid-namespace'));
  });

  it('unsupported-version: version 0.9 (§4.9.3.25)', async () => {
    const out = await closedAfter(`<?xml version='1.0'?><stream:stream to='${DOMAIN}' version='0.9' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    expect(afterHeader(out)).toMatch(streamErrorPattern('unsupported-version'));
  });

  it('improper-addressing: a JID where a domain belongs (§4.9.3.7)', async () => {
    const out = await closedAfter(header(`juliet@${DOMAIN}`));
    expect(afterHeader(out)).toMatch(streamErrorPattern('improper-addressing'));
  });

  it('not-well-formed: mismatched tags (§4.9.3.13)', async () => {
    const client = await RawClient.connect(t.port);
    client.send(header());
    await client.until(/<\/stream:features>/);
    client.send('<a></b>');
    expect(await client.untilClosed()).toMatch(streamErrorPattern('not-well-formed'));
  });

  it('restricted-xml: a comment (§4.9.3.18, §11.1)', async () => {
    const client = await RawClient.connect(t.port);
    client.send(header());
    await client.until(/<\/stream:features>/);
    client.send('<!-- hello -->');
    expect(await client.untilClosed()).toMatch(streamErrorPattern('restricted-xml'));
  });

  it('policy-violation: a pre-authentication stanza over 8 KiB (§4.9.3.14, §13.12)', async () => {
    const client = await RawClient.connect(t.port);
    client.send(header());
    await client.until(/<\/stream:features>/);
    client.send(`<message><body>${'x'.repeat(9000)}</body></message>`);
    expect(await client.untilClosed()).toMatch(streamErrorPattern('policy-violation'));
  });

  it('see-other-host: the registry maps the domain elsewhere (§4.9.3.19)', async () => {
    const out = await closedAfter(header('moved.example'));
    expect(afterHeader(out)).toMatch(streamErrorPattern('see-other-host', 'eu.example.net:5222'));
  });

  it('see-other-host: the registry maps the user elsewhere, answered after SASL success', async () => {
    const client = await rawAuthenticate(t, 'romeo');
    client.send(header());
    expect(afterHeader(await client.untilClosed())).toMatch(streamErrorPattern('see-other-host', '[2001:db8::1]:5222'));
  });

  it('see-other-host: the domain service redirects the user (docs/service-protocol.md §13.4)', async () => {
    t.router.redirects.set(`tybalt@${DOMAIN}`, 'capulet.example.net');
    const client = await rawAuthenticate(t, 'tybalt');
    client.send(header());
    expect(afterHeader(await client.untilClosed())).toMatch(streamErrorPattern('see-other-host', 'capulet.example.net'));
  });

  it('conflict: the same resource bound twice; the new session wins (§7.7.2.2)', async () => {
    const first = await rawLogin(t, 'juliet', { resource: 'balcony' });
    const second = await rawLogin(t, 'juliet', { resource: 'balcony' });
    expect(second.jid).toBe(`juliet@${DOMAIN}/balcony`);
    expect(await first.client.untilClosed()).toMatch(streamErrorPattern('conflict'));
    await eventually(async () => (await t.registry.sessions.get(`juliet@${DOMAIN}`)).length === 1, 2000, 'one session');
    const [record] = await t.registry.sessions.get(`juliet@${DOMAIN}`);
    expect(record!.sessionId).toBe(t.edge.table.sessionFor(`juliet@${DOMAIN}/balcony`));
    const closed = t.router.events.filter((e) => e.event.event === 'closed' && e.routingKey === `juliet@${DOMAIN}`);
    expect(closed.map((e) => e.event.reason)).toEqual(['conflict']);
    second.client.send('</stream:stream>');
    await second.client.untilClosed();
  });

  it('reset: a kick for a changed security context (§4.9.3.16)', async () => {
    const { client } = await rawLogin(t, 'nurse', { resource: 'r1' });
    expect(t.edge.kick({ bareJid: `nurse@${DOMAIN}`, reason: 'reset' })).toBe(1);
    expect(await client.untilClosed()).toMatch(streamErrorPattern('reset'));
  });

  it('policy-violation: an administrative kick', async () => {
    const { client } = await rawLogin(t, 'nurse', { resource: 'r2' });
    expect(t.edge.kick({ bareJid: `nurse@${DOMAIN}`, resource: 'r2', reason: 'abuse' })).toBe(1);
    expect(await client.untilClosed()).toMatch(streamErrorPattern('policy-violation'));
  });

  it('unsupported-stanza-type: a first-level element that is no stanza (§4.9.3.24)', async () => {
    const { client } = await rawLogin(t, 'nurse', { resource: 'r3' });
    client.send("<foo xmlns='jabber:client'/>");
    expect(await client.untilClosed()).toMatch(streamErrorPattern('unsupported-stanza-type'));
  });

  it('system-shutdown: the edge shuts down without a peer to send clients to (§4.9.3.22)', async () => {
    const own = await startEdge();
    await addTestUser(own.registry, 'juliet');
    const { client } = await rawLogin(own, 'juliet');
    expect(own.edge.shutdownAll(() => undefined)).toBe(1);
    expect(await client.untilClosed()).toMatch(streamErrorPattern('system-shutdown'));
    await own.close();
  });
});

describe('limits of the c2s listener', () => {
  it('connection-timeout: negotiation not finished in time (§4.9.3.4)', async () => {
    const t = await startEdge({ stream: { negotiationTimeoutMs: 200 } });
    try {
      const client = await RawClient.connect(t.port);
      client.send(header());
      await client.until(/<\/stream:features>/);
      expect(await client.untilClosed(3000)).toMatch(streamErrorPattern('connection-timeout'));
    } finally {
      await t.close();
    }
  });

  it('resource-constraint: connections beyond max-sessions are refused (§4.9.3.17)', async () => {
    const t = await startEdge({ maxSessions: 2 });
    try {
      const a = await RawClient.connect(t.port);
      const b = await RawClient.connect(t.port);
      await eventually(() => t.edge.table.size === 2, 2000, 'two connections');
      const c = await RawClient.connect(t.port);
      const out = await c.untilClosed();
      expect(afterHeader(out)).toMatch(streamErrorPattern('resource-constraint'));
      expect(t.edge.stats().listeners[0]!.refused).toBe(1);
      a.destroy();
      b.destroy();
      await eventually(() => t.edge.table.size === 0, 2000, 'connections gone');
      const d = await RawClient.connect(t.port);
      d.send(header());
      await d.until(/<\/stream:features>/);
      d.destroy();
    } finally {
      await t.close();
    }
  });
});

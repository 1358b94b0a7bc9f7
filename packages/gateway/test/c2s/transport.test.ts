// The socket transport's bounds: a client that stops reading is cut without stalling anyone else
// (write high-water mark → held output → maxSendBufferBytes), a STARTTLS handshake that never
// comes is cut at the handshake deadline, a graceful close lingers a bounded time.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOMAIN, RawClient, addTestUser, eventually, header, messageTo, rawLogin, startEdge, type TestEdge } from './helpers.js';

describe('socket transport bounds', () => {
  let t: TestEdge;

  beforeAll(async () => {
    t = await startEdge({ stream: { maxSendBufferBytes: 256 * 1024 }, handshakeTimeoutMs: 300, lingerMs: 300 });
    await addTestUser(t.registry, 'juliet');
    await addTestUser(t.registry, 'romeo');
  });

  afterAll(async () => {
    await t.close();
  });

  it('cuts a client that does not read; another client is served meanwhile', async () => {
    const frozen = await rawLogin(t, 'juliet', { resource: 'frozen' });
    const live = await rawLogin(t, 'romeo', { resource: 'live' });
    frozen.client.socket.pause();
    const frozenId = t.edge.table.sessionFor(frozen.jid)!;
    const liveId = t.edge.table.sessionFor(live.jid)!;
    const big = 'x'.repeat(8 * 1024);
    const results: Record<string, number> = {};
    for (let n = 0; n < 400; n++) {
      const result = t.edge.table.deliver(frozenId, messageTo(frozen.jid, big, `f${n}`));
      results[result] = (results[result] ?? 0) + 1;
      if (n % 50 === 0) expect(t.edge.table.deliver(liveId, messageTo(live.jid, `tick ${n}`))).not.toBe('refused');
    }
    // Some went out, some were held, then the bound was reached and the rest refused.
    expect(results.refused).toBeGreaterThan(0);
    await eventually(() => t.edge.table.get(frozenId) === undefined, 3000, 'frozen session ended');
    await live.client.until(/<body>tick 350<\/body>/);
    const closed = t.router.events.find((e) => e.event.event === 'closed' && e.event.jid === frozen.jid);
    expect(closed?.event.reason).toBe('timeout');
    live.client.destroy();
    frozen.client.destroy();
  });

  it('cuts a STARTTLS client that never starts its handshake', async () => {
    const client = await RawClient.connect(t.port);
    client.send(header());
    await client.until(/<\/stream:features>/);
    client.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await client.until(/<proceed xmlns="urn:ietf:params:xml:ns:xmpp-tls"\/>/);
    await client.untilClosed(3000);
    await eventually(() => t.edge.table.size === 0, 2000, 'session gone');
  });

  it('a graceful close to a client that never reads ends within the linger bound', async () => {
    const { client, jid } = await rawLogin(t, 'juliet', { resource: 'slow' });
    client.socket.pause();
    const id = t.edge.table.sessionFor(jid)!;
    // Fill the path so the closing bytes cannot all be flushed, then close.
    for (let n = 0; n < 20; n++) t.edge.table.deliver(id, messageTo(jid, 'y'.repeat(8 * 1024), `s${n}`));
    t.edge.kick({ bareJid: `juliet@${DOMAIN}`, resource: 'slow', reason: 'abuse' });
    const sockets = () => t.edge.stats().listeners.reduce((sum, l) => sum + l.sockets, 0);
    await eventually(() => sockets() === 0, 3000, 'socket released after linger');
    client.destroy();
  });
});

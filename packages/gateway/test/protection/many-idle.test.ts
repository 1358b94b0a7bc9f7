// 1 000 idle unauthenticated connections (half silent, half after a stream header) from ten
// 127.x addresses, against a 3 s pre-authentication deadline: every one is closed with
// connection-timeout and counted. bench/idle-connections.mjs does 10 000 and measures memory.

import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { header, login, medianRoundTrip, startProtectedEdge, addTestUser } from './helpers.js';

const N = 1000;

describe('many idle unauthenticated connections', () => {
  it(`${N} connections are all closed by a 3 s deadline with connection-timeout`, async () => {
    const t = await startProtectedEdge({ limits: { preAuthTimeoutMs: 3000, maxUnauthenticatedPerIp: 200, connectionRatePerIp: { limit: 200, windowMs: 60_000 } } });
    try {
      await addTestUser(t.registry, 'juliet');
      const healthy = (await login(t, 'juliet', { from: '127.0.10.99' })).client;
      const before = await medianRoundTrip(healthy);
      let timedOut = 0;
      let closed = 0;
      const all: Promise<void>[] = [];
      for (let i = 0; i < N; i++) {
        const socket = connect({ host: '127.0.0.1', port: t.port, localAddress: `127.0.10.${(i % 10) + 1}` });
        let text = '';
        socket.setEncoding('utf8');
        socket.on('error', () => {});
        socket.on('data', (chunk: string) => (text = (text + chunk).slice(-300)));
        if (i % 2 === 1) socket.once('connect', () => socket.write(header()));
        all.push(
          once(socket, 'close').then(() => {
            closed++;
            if (text.includes('<connection-timeout xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>')) timedOut++;
          }),
        );
        if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
      }
      const during = await medianRoundTrip(healthy);
      await Promise.race([Promise.all(all), new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${closed} closed`)), 20_000))]);
      console.log(`[${N} idle] all closed by the deadline; healthy round trip: before ${before.toFixed(1)} ms, during ${during.toFixed(1)} ms`);
      expect(closed).toBe(N);
      expect(timedOut).toBe(N);
      expect(t.edge.stats().limits.tripped['pre-auth-timeout']).toBe(N);
      expect(t.edge.stats().sessions.connections).toBe(1);
      healthy.destroy();
    } finally {
      await t.close();
    }
  }, 40_000);
});

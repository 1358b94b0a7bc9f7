#!/usr/bin/env node
// The IM service's own cost per stanza, against the BUILT packages (`npm run build` first): an
// ImService on a minimal DomainServiceApi that counts what it would send (no channel, no
// serialisation: that is the SDK's cost, measured by its own benchmark), over the memory store
// and over a redis-server this script starts on a free loopback port.
//
//   node packages/im-service/bench/im-service-bench.mjs        prints a table
//   import { run } from '.../im-service-bench.mjs'; await run()
//
// Each figure is a rate over a fixed window with CONCURRENCY users sending at once (one stanza at
// a time each, as the SDK's lanes hand them over): throughput of one instance, not latency.

import { pathToFileURL } from 'node:url';
import { createMemoryImStore } from '@ambrosia/im-store';
import { createRedisImStore } from '@ambrosia/im-store-redis';
import { startRedis, stopAll } from '@ambrosia/testing-redis';
import { xml } from '@ambrosia/xml';
import { ImService } from '../dist/index.js';

const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 1500);
const CONCURRENCY = 64;
const CONTACTS = 50;
const DOMAIN = 'bench.example';

/** A DomainServiceApi that plays the session directory and counts deliveries. */
class CountingService {
  gateways = ['gw-1'];
  instance = 'bench';
  delivered = 0;
  routed = 0;
  directory = new Map();
  onStanza(handler) {
    this.handler = handler;
  }
  onSessionEvent(handler) {
    this.events = handler;
  }
  onSeeOtherHost() {}
  async start() {}
  async stop() {}
  async sendToSession(_target, _stanza, options) {
    this.delivered++;
    return options?.deliveryReport ? 'delivered' : 'accepted';
  }
  async route() {
    this.routed++;
  }
  async sessions(bare) {
    return [...(this.directory.get(bare)?.values() ?? [])];
  }
  bind(bare, resource, available) {
    let map = this.directory.get(bare);
    if (!map) this.directory.set(bare, (map = new Map()));
    map.set(resource, { bareJid: bare, resource, gatewayId: 'gw-1', sessionId: `${bare}/${resource}`, priority: 0, available, boundAt: 0 });
  }
  unbind(bare, resource) {
    this.directory.get(bare)?.delete(resource);
  }
  stanza(fullJid, element) {
    element.attrs.from = fullJid;
    return this.handler({ via: 'c2s', gateway: 'gw-1', session: fullJid, origin: fullJid, key: '', redelivered: false, element });
  }
}

async function rate(op) {
  let done = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + WINDOW_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, lane) => {
      while (performance.now() < deadline) {
        await op(lane, next++);
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

async function measure(label, store) {
  const tag = `${label.replace(/\W+/g, '')}${process.pid}`;
  const service = new CountingService();
  const im = new ImService({ service, store, domains: DOMAIN });
  im.start();
  const user = (i) => `u${i}-${tag}@${DOMAIN}`;

  // Online pairs: sender i and recipient i + CONCURRENCY.
  for (let i = 0; i < 2 * CONCURRENCY; i++) service.bind(user(i), 'r', true);
  const chat = await rate((lane, n) =>
    service.stanza(`${user(lane)}/r`, xml('message', { to: user(lane + CONCURRENCY), type: 'chat', id: `m${n}` }, xml('body', null, 'Wherefore art thou, Romeo?'))),
  );

  // Offline recipients: every message is stored (then the queues are emptied, unmeasured).
  const offline = await rate((lane, n) =>
    service.stanza(`${user(lane)}/r`, xml('message', { to: user(1000 + (n % 500)), type: 'chat', id: `o${n}` }, xml('body', null, 'later'))),
  );
  for (let i = 0; i < 500; i++) await store.offline.clear(user(1000 + i));

  // Roster sets.
  const roster = await rate((lane, n) =>
    service.stanza(`${user(lane)}/r`, xml('iq', { type: 'set', id: `r${n}` }, xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: `c${n % 200}@elsewhere.example`, name: `n${n}` })))),
  );

  // Logins: initial presence with CONTACTS mutual local contacts (probes answered, broadcast).
  for (let i = 0; i < CONCURRENCY; i++) {
    for (let c = 0; c < CONTACTS; c++) {
      const a = user(2000 + i);
      const b = user(3000 + c);
      await store.roster.update(a, b, () => ({ item: { subscription: 'both' } }));
      await store.roster.update(b, a, () => ({ item: { subscription: 'both' } }));
    }
  }
  const logins = await rate(async (lane) => {
    const jid = user(2000 + lane);
    service.bind(jid, 'r', true);
    await service.stanza(`${jid}/r`, xml('presence'));
    await service.stanza(`${jid}/r`, xml('presence', { type: 'unavailable' }));
    service.unbind(jid, 'r');
  });

  for (let i = 0; i < 4000; i++) await store.deleteAccount(user(i));
  return {
    [`${label}_chat_messages_per_s`]: { value: chat, unit: 'messages/s' },
    [`${label}_offline_stores_per_s`]: { value: offline, unit: 'messages/s' },
    [`${label}_roster_sets_per_s`]: { value: roster, unit: 'sets/s' },
    [`${label}_login_logout_${CONTACTS}_contacts_per_s`]: { value: logins, unit: 'logins/s' },
  };
}

/** BENCH_STORES=memory (or redis) measures one store only. */
const STORES = (process.env.BENCH_STORES ?? 'memory,redis').split(',');

export async function run() {
  const figures = {};
  if (STORES.includes('memory')) {
    const memory = createMemoryImStore();
    Object.assign(figures, await measure('memory', memory));
    await memory.close();
  }
  if (STORES.includes('redis')) await measureRedis(figures);
  const result = { name: 'im-service', figures };
  for (const [key, figure] of Object.entries(figures)) console.log(`${key.padEnd(48)} ${Math.round(figure.value).toLocaleString('en-US').padStart(10)} ${figure.unit}`);
  return result;
}

async function measureRedis(figures) {
  const server = await startRedis();
  try {
    const redis = await createRedisImStore({ url: server.url, prefix: 'bench:' });
    try {
      Object.assign(figures, await measure('redis', redis));
    } finally {
      await redis.close();
    }
  } finally {
    await stopAll();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run();

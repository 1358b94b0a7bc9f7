#!/usr/bin/env node
// A small domain service app on @ambrosia/service-sdk (built dist) that records every stanza its
// handler ran, for tests that kill it: one JSON line per handled stanza, written before the
// handler settles (so before the SDK acknowledges it: a line present means "handed to the
// application"; on Linux, writes to a pipe are synchronous, so a SIGKILL loses no line written).
// Configuration from the environment:
//   REDIS_URL (registry discovery), DOMAINS (comma-separated, type client), INSTANCE,
//   CA_FILE, CERT_FILE, KEY_FILE, HANDLER_DELAY_MS (default 0: time each handler takes)
// Lines: {"event":"ready"} once registered; {"event":"stanza","key","redelivered","origin",
// "id","body","instance"} per stanza handled; {"event":"error"} for what the SDK reports.
// SIGTERM stops it gracefully (the SDK's bounded stop), then {"event":"stopped"}.
import { readFileSync } from 'node:fs';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import { DomainService } from '@ambrosia/service-sdk';

const env = process.env;
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const delayMs = Number(env.HANDLER_DELAY_MS ?? '0');
const startDeadline = setTimeout(() => {
  print({ event: 'error', message: 'start timed out' });
  process.exit(1);
}, 30_000);

const registry = createRedisRegistry({ url: env.REDIS_URL, heartbeatIntervalMs: 1_000 });
await registry.ready();
const service = new DomainService({
  instance: env.INSTANCE,
  registrations: env.DOMAINS.split(',').map((domain) => ({ domain, type: 'client' })),
  tls: { cert: readFileSync(env.CERT_FILE), key: readFileSync(env.KEY_FILE), ca: readFileSync(env.CA_FILE) },
  registry,
  discoveryIntervalMs: 500,
  reconnectBackoff: { initialMs: 50, maxMs: 500 },
  onError: (error) => print({ event: 'error', code: error?.code, message: String(error?.message ?? error) }),
});
service.onStanza(async ({ element, key, redelivered, origin, via }) => {
  print({ event: 'stanza', key, redelivered, origin, via, id: element.attrs.id, body: element.getChildText('body'), instance: env.INSTANCE });
  if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
});
await service.start();
clearTimeout(startDeadline);
print({ event: 'ready', instance: env.INSTANCE });

process.on('SIGTERM', async () => {
  await service.stop({ timeoutMs: 3_000 }).catch(() => undefined);
  await registry.close().catch(() => undefined);
  print({ event: 'stopped' });
  process.exit(0);
});

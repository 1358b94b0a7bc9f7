#!/usr/bin/env node
// One IM service instance in its own process, for tests that must SIGKILL it: createImService
// from the built dist of @ambrosia/im-service, the IM store and a registry node on Redis.
// Configuration from the environment:
//   REDIS_URL, DOMAIN, INSTANCE, CA_FILE, CERT_FILE, KEY_FILE (PEM files of the cluster CA and a
//   service certificate for DOMAIN)
// Prints one JSON line per event: {"event":"ready","instance":…} once registered on a gateway,
// {"event":"error",…} for what the service reports. SIGTERM stops it gracefully (bounded).
import { readFileSync } from 'node:fs';
import { createImService } from '@ambrosia/im-service';
import { createRedisImStore } from '@ambrosia/im-store-redis';
import { createRedisRegistry } from '@ambrosia/registry-redis';

const env = process.env;
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
// A process that cannot start within this bound fails rather than hanging the test.
const startDeadline = setTimeout(() => {
  print({ event: 'error', message: 'start timed out' });
  process.exit(1);
}, 30_000);

const registry = createRedisRegistry({ url: env.REDIS_URL, heartbeatIntervalMs: 1_000 });
await registry.ready();
const store = await createRedisImStore({ url: env.REDIS_URL });
const im = createImService({
  domains: env.DOMAIN,
  store,
  registry,
  instance: env.INSTANCE,
  tls: { cert: readFileSync(env.CERT_FILE), key: readFileSync(env.KEY_FILE), ca: readFileSync(env.CA_FILE) },
  discoveryIntervalMs: 500,
  reconnectBackoff: { initialMs: 50, maxMs: 500 },
  onError: (error) => print({ event: 'error', message: String(error?.message ?? error) }),
});
await im.start();
clearTimeout(startDeadline);
print({ event: 'ready', instance: env.INSTANCE });

process.on('SIGTERM', async () => {
  await im.stop({ timeoutMs: 3_000 }).catch(() => undefined);
  await store.close().catch(() => undefined);
  await registry.close().catch(() => undefined);
  print({ event: 'stopped' });
  process.exit(0);
});

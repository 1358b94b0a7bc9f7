// The registry a long-running role uses: Redis from the configuration, reached within a bounded
// time at start, its background failures logged. Also the view a gateway worker gives its
// Gateway, which hides the sibling workers from redirects while the host stops.
import { redactRedisUrl } from '@ambrosia/redis-connection';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import type { RegistryConfig } from '@ambrosia/config';
import type { Registry, RoutingView } from '@ambrosia/registry';
import type { Logger } from 'pino';
import { CliError } from '../output.js';

/** A registry background error is logged at most this often per context (a Redis outage repeats them every heartbeat). */
const ERROR_LOG_INTERVAL_MS = 10_000;

export async function openRegistry(config: RegistryConfig, logger: Logger, connectionName: string): Promise<Registry> {
  const lastLogged = new Map<string, number>();
  const registry = createRedisRegistry({
    url: config.url,
    connectionName,
    ...(config.prefix === undefined ? {} : { prefix: config.prefix }),
    ...(config.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: config.commandTimeoutMs }),
    ...(config.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: config.connectTimeoutMs }),
    onError: (error, context) => {
      const code = (error as { code?: unknown }).code;
      if (code === 'REGISTRY_CLOSED') return; // a refresh racing our own close at exit
      const now = Date.now();
      if (now - (lastLogged.get(context) ?? 0) < ERROR_LOG_INTERVAL_MS) return;
      if (lastLogged.size > 100) lastLogged.clear(); // contexts are a handful of fixed names; bound it anyway
      lastLogged.set(context, now);
      logger.warn({ event: 'registry-error', context, ...(typeof code === 'string' ? { code } : {}) });
    },
  });
  try {
    await registry.ready({ timeoutMs: config.readyTimeoutMs });
  } catch (error) {
    await registry.close().catch(() => undefined);
    throw new CliError(`cannot reach the registry at ${redactRedisUrl(config.url)} within ${config.readyTimeoutMs} ms: ${(error as Error).message}`);
  }
  return registry;
}

/**
 * The registry as the Gateway sees it, with the gateways `hidden()` names left out of the routing
 * view's gateway list. The Gateway reads that list only to pick a peer for see-other-host; sibling
 * workers share this host's addresses and ports and stop with it, so they are no place to send a
 * client when the host stops.
 */
export function hidingGateways(registry: Registry, hidden: () => ReadonlySet<string>): Registry {
  const routing: RoutingView = {
    instances: (domain, type) => registry.routing.instances(domain, type),
    services: () => registry.routing.services(),
    gateway: (id) => registry.routing.gateway(id),
    gateways: () => {
      const names = hidden();
      const all = registry.routing.gateways();
      return names.size === 0 ? all : all.filter((g) => !names.has(g.id));
    },
  };
  return {
    get incarnation() {
      return registry.incarnation;
    },
    ready: (opts) => registry.ready(opts),
    health: () => registry.health(),
    heartbeat: () => registry.heartbeat(),
    close: () => registry.close(),
    gateways: registry.gateways,
    services: registry.services,
    routing,
    sessions: registry.sessions,
    resumptions: registry.resumptions,
    seeOtherHost: registry.seeOtherHost,
    credentials: registry.credentials,
    counters: registry.counters,
    events: registry.events,
    commands: registry.commands,
  };
}

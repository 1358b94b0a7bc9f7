// Opening the cluster registry for one CLI command: the URL comes from --registry or
// AMBROSIA_REGISTRY_URL, and a registry that cannot be reached is one readable line, not a stack.
import { DEFAULT_REGISTRY_URL, envName } from '@ambrosia/config';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import type { Registry } from '@ambrosia/registry';
import { CliError, EXIT_USAGE } from './output.js';

/** The same variable the configuration file's `registry.url` is overridden by (docs/configuration.md). */
export const REGISTRY_ENV = envName(['registry', 'url']);
const READY_TIMEOUT_MS = 5_000;

export function registryUrl(option: string | undefined): string {
  return option ?? process.env[REGISTRY_ENV] ?? DEFAULT_REGISTRY_URL;
}

/** Connects, runs `body`, and always disconnects (a CLI must not hang on an open socket). */
export async function withRegistry<T>(url: string, body: (registry: Registry) => Promise<T>): Promise<T> {
  if (!/^(rediss?|redis-sentinel|redis-cluster):\/\//.test(url)) {
    throw new CliError(`registry URL must start with redis://, rediss://, redis-sentinel:// or redis-cluster:// (got "${url}")`, EXIT_USAGE);
  }
  let registry: Registry;
  try {
    registry = createRedisRegistry({ url, connectionName: 'ambrosia-cli' });
  } catch (e) {
    throw new CliError(`registry URL "${url}" is not valid: ${(e as Error).message}`, EXIT_USAGE);
  }
  try {
    try {
      await registry.ready({ timeoutMs: READY_TIMEOUT_MS });
    } catch (e) {
      throw new CliError(`cannot reach the registry at ${url}: ${(e as Error).message}`);
    }
    return await body(registry);
  } finally {
    await registry.close().catch(() => undefined);
  }
}

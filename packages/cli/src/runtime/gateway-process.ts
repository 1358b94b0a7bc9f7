// One gateway in this process: the registry, the TLS material, the Gateway, and its graceful
// stop. Used by `ambrosia gateway` with `processes: 1` and by every cluster worker.
import { Gateway, type GatewayStartResult } from '@ambrosia/gateway';
import type { AmbrosiaConfig } from '@ambrosia/config';
import type { Registry } from '@ambrosia/registry';
import { CliError } from '../output.js';
import { gatewayOptions } from './gateway-options.js';
import type { RuntimeLog } from './log.js';
import { gatewayMaterial } from './material.js';
import { hidingGateways, openRegistry } from './registry.js';

export interface StartGatewayOptions {
  config: AmbrosiaConfig;
  log: RuntimeLog;
  id: string;
  /** A worker's own service port. */
  servicePort?: number;
  /** The other workers of this host (hidden from redirects once the host stops). */
  siblings?: readonly string[];
}

export interface RunningGateway {
  gateway: Gateway;
  started: GatewayStartResult;
  /**
   * Graceful stop: stop accepting, mark the gateway draining, send every client to a live peer
   * on another host (see-other-host) or end it with system-shutdown, wait for the sessions (at
   * most `gateway.stopTimeoutMs`), close the service hub (services get their acks, then CLOSE),
   * withdraw from the registry, disconnect. Idempotent.
   */
  stop(): Promise<void>;
}

export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const { config, log } = options;
  const material = await gatewayMaterial(config.gateway);
  const registry: Registry = await openRegistry(config.registry, log.logger, `ambrosia-${options.id}`.slice(0, 60));
  const siblings = new Set(options.siblings ?? []);
  let hostStopping = false;
  const view = hidingGateways(registry, () => (hostStopping ? siblings : new Set()));
  let gateway: Gateway;
  try {
    gateway = new Gateway(gatewayOptions(config.gateway, material, { registry: view, logger: log.gateway(), id: options.id, ...(options.servicePort === undefined ? {} : { servicePort: options.servicePort }) }));
  } catch (error) {
    await registry.close().catch(() => undefined);
    throw new CliError(`the gateway cannot be configured: ${(error as Error).message}`, 2);
  }
  let started: GatewayStartResult;
  try {
    started = await gateway.start();
  } catch (error) {
    await registry.close().catch(() => undefined);
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new CliError(`a port is already in use (${e.message}); change gateway.ports`);
    if (e.code === 'EADDRNOTAVAIL') throw new CliError(`cannot listen on ${config.gateway.host}: ${e.message} (gateway.host)`, 2);
    // The gateway checks its settings when it starts (a RangeError names the setting).
    if (error instanceof RangeError) throw new CliError(`the gateway refused its settings: ${e.message}`, 2);
    throw new CliError(`the gateway did not start: ${e.message}`);
  }
  let stopping: Promise<void> | undefined;
  return {
    gateway,
    started,
    stop: () =>
      (stopping ??= (async () => {
        hostStopping = true;
        await gateway.stop({ timeoutMs: config.gateway.stopTimeoutMs });
        await registry.close().catch(() => undefined);
      })()),
  };
}

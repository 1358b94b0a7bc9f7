import type { Command } from 'commander';
import { createImService } from '@ambrosia/im-service';
import { createRedisImStore } from '@ambrosia/im-store-redis';
import { redactRedisUrl } from '@ambrosia/redis-connection';
import { CliError } from '../output.js';
import { configCliError, defaultInstanceName, loadForRoles } from '../runtime/config.js';
import { EXIT_GRACE_MS, exitDeadline, exitWhenIdle, listenForStop } from '../runtime/lifecycle.js';
import { createRuntimeLog } from '../runtime/log.js';
import { imServiceTls } from '../runtime/material.js';
import { openRegistry } from '../runtime/registry.js';

// `ambrosia im-service`: the IM service (RFC 6121 and the everyday XEPs) connected to every
// gateway of the cluster over the service channel, its data in Redis.
export function registerImServiceCommand(program: Command): void {
  program
    .command('im-service')
    .description('run the IM service for imService.domains, connected to every gateway in the registry; SIGTERM stops it gracefully')
    .option('-c, --config <file>', 'configuration file (default $AMBROSIA_CONFIG, else ./ambrosia.yaml if present)')
    .action(async (flags: { config?: string }) => {
      const { config, file, env } = await loadForRoles(flags.config, ['im-service']);
      const im = config.imService!;
      const instance = im.instance ?? defaultInstanceName();
      const tls = await imServiceTls(im, instance).catch(configCliError);
      const log = createRuntimeLog({ config: config.log, role: 'im-service' });
      log.logger.info({ event: 'config-loaded', ...(file === undefined ? { defaults: true } : { file }), envOverrides: env.length });
      const stop = listenForStop(log.logger);
      const registry = await openRegistry(config.registry, log.logger, `ambrosia-${instance}`.slice(0, 60));
      const storeUrl = im.store.url ?? config.registry.url;
      const store = await createRedisImStore({ url: storeUrl, connectionName: 'ambrosia-im-store', ...(im.store.prefix === undefined ? {} : { prefix: im.store.prefix }) }).catch(async (error: Error) => {
        await registry.close().catch(() => undefined);
        throw new CliError(`cannot reach the IM store at ${redactRedisUrl(storeUrl)}: ${error.message}`);
      });
      const service = createImService({ domains: im.domains, store, registry, instance, tls, registration: im.registration, onError: log.serviceErrors() });
      const started = service.start().then(
        () => log.logger.info({ event: 'im-service-started', instance, domains: im.domains.length, gateways: service.service.gateways.length }),
        (error: Error & { code?: string }) => {
          throw new CliError(`the IM service did not start: ${error.code ?? ''} ${error.message}`.trim());
        },
      );
      let first: 'started' | string;
      try {
        first = await Promise.race([started.then(() => 'started' as const), stop.requested]);
      } catch (error) {
        // The SDK stopped itself when start() rejected; release the rest.
        await store.close().catch(() => undefined);
        await registry.close().catch(() => undefined);
        stop.dispose();
        throw error;
      }
      if (first === 'started') await stop.requested;
      exitDeadline(im.stopTimeoutMs + EXIT_GRACE_MS, log.logger, log.flush);
      await service.stop({ timeoutMs: im.stopTimeoutMs });
      await started.catch(() => undefined);
      await store.close().catch(() => undefined);
      await registry.close().catch(() => undefined);
      stop.dispose();
      log.logger.info({ event: 'im-service-exit', instance });
      process.exitCode = 0;
      exitWhenIdle(0, log.flush);
    });
}

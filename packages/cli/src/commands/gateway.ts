import type { Command } from 'commander';
import { configCliError, defaultGatewayId, loadForRoles, processCount } from '../runtime/config.js';
import { runGatewayPrimary } from '../runtime/cluster.js';
import { startGateway } from '../runtime/gateway-process.js';
import { EXIT_GRACE_MS, exitDeadline, exitWhenIdle, listenForStop } from '../runtime/lifecycle.js';
import { createRuntimeLog } from '../runtime/log.js';
import { gatewayMaterial } from '../runtime/material.js';

// `ambrosia gateway`: the client edge and the service hub of one host, in the Redis registry.
// `gateway.processes: 1` runs it in this process; more run a supervising primary and workers.
export function registerGatewayCommand(program: Command): void {
  program
    .command('gateway')
    .description('run a gateway (c2s listeners and the service hub) in the cluster registry; SIGTERM stops it gracefully')
    .option('-c, --config <file>', 'configuration file (default $AMBROSIA_CONFIG, else ./ambrosia.yaml if present, else defaults)')
    .action(async (flags: { config?: string }) => {
      const { config, file, env } = await loadForRoles(flags.config, ['gateway']);
      // Certificates and the CA are loaded once here so a bad one is reported before anything starts.
      await gatewayMaterial(config.gateway).catch(configCliError);
      const processes = processCount(config);
      const id = config.gateway.id ?? defaultGatewayId();
      if (processes > 1) {
        const log = createRuntimeLog({ config: config.log, role: 'gateway-primary' });
        log.logger.info({ event: 'config-loaded', ...(file === undefined ? { defaults: true } : { file }), envOverrides: env.length });
        const code = await runGatewayPrimary({ config, log, id, processes });
        process.exitCode = code;
        exitWhenIdle(code, log.flush);
        return;
      }
      const log = createRuntimeLog({ config: config.log, role: 'gateway' });
      log.logger.info({ event: 'config-loaded', ...(file === undefined ? { defaults: true } : { file }), envOverrides: env.length });
      const stop = listenForStop(log.logger);
      const running = await startGateway({ config, log, id }).catch((error: unknown) => {
        stop.dispose();
        throw error;
      });
      await stop.requested;
      exitDeadline(config.gateway.stopTimeoutMs + EXIT_GRACE_MS, log.logger, log.flush);
      await running.stop();
      stop.dispose();
      log.logger.info({ event: 'gateway-exit', gateway: id });
      process.exitCode = 0;
      exitWhenIdle(0, log.flush);
    });
}

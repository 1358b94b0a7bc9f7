import type { Command } from 'commander';
import { checkConfigFiles, type AmbrosiaConfig, type Role } from '@ambrosia/config';
import { redactRedisUrl } from '@ambrosia/redis-connection';
import { CliError, EXIT_USAGE, type Output } from '../output.js';
import { configCliError, defaultInstanceName, loadForRoles } from '../runtime/config.js';
import { gatewayMaterial, imServiceTls } from '../runtime/material.js';

const ROLES: readonly Role[] = ['gateway', 'im-service'];

function role(value: string, previous: Role[]): Role[] {
  if (!(ROLES as readonly string[]).includes(value)) throw new CliError(`--role must be gateway or im-service (got "${value}")`, EXIT_USAGE);
  return [...previous, value as Role];
}

/** The configuration as printed: a password in a Redis URL is masked. */
function shown(config: AmbrosiaConfig): AmbrosiaConfig {
  const copy = structuredClone(config);
  copy.registry.url = redactRedisUrl(copy.registry.url);
  if (copy.imService?.store.url !== undefined) copy.imService.store.url = redactRedisUrl(copy.imService.store.url);
  return copy;
}

// `ambrosia check config [file]`: everything `gateway` and `im-service` check before they start
// (schema, environment overrides, files, certificates, the CA), without starting anything.
export function registerCheckCommand(program: Command, getOutput: () => Output): void {
  const check = program.command('check').description('check things without starting anything');
  check
    .command('config [file]')
    .description('validate a configuration file and the AMBROSIA_* environment; exit code 2 with one line per problem')
    .option('--role <role>', 'check what this role needs: gateway or im-service (repeatable; default gateway, and im-service when imService is set)', role, [])
    .action(async (file: string | undefined, flags: { role: Role[] }) => {
      // Loaded once: the roles to check can depend on the configuration (imService set or not).
      const { config, file: used, env } = await loadForRoles(file, []);
      const roles: Role[] = flags.role.length > 0 ? [...new Set(flags.role)] : ['gateway', ...(config.imService === undefined ? [] : (['im-service'] as const))];
      await checkConfigFiles(config, roles).catch(configCliError);
      if (roles.includes('gateway')) await gatewayMaterial(config.gateway).catch(configCliError);
      if (roles.includes('im-service')) await imServiceTls(config.imService!, config.imService!.instance ?? defaultInstanceName()).catch(configCliError);
      getOutput().result({ valid: true, file: used ?? null, env, roles, config: shown(config) }, () =>
        `configuration OK: ${used ?? 'defaults (no file)'}${env.length > 0 ? `, with ${env.join(', ')}` : ''}; checked for ${roles.join(' and ')}`,
      );
    });
}

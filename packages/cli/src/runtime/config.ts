// Loading the configuration for a command: every problem becomes one `ambrosia: config: …`
// line on standard error, and exit code 2.
import { availableParallelism, hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { checkConfigFiles, formatProblem, isConfigError, loadConfig, type AmbrosiaConfig, type LoadedConfig, type Role } from '@ambrosia/config';
import { CliError, EXIT_USAGE } from '../output.js';

/** A ConfigError as the CLI prints it: main() prefixes the first line, the others get it here. */
export function configCliError(error: unknown): never {
  if (isConfigError(error)) throw new CliError(error.problems.map(formatProblem).join('\nambrosia: '), EXIT_USAGE, error.code);
  throw error;
}

export async function loadForRoles(file: string | undefined, roles: readonly Role[]): Promise<LoadedConfig> {
  try {
    const loaded = await loadConfig(file === undefined ? {} : { file });
    await checkConfigFiles(loaded.config, roles);
    return loaded;
  } catch (error) {
    configCliError(error);
  }
}

/** `processes: auto` is one per core the process may use. */
export function processCount(config: AmbrosiaConfig): number {
  const wanted = config.gateway.processes;
  return wanted === 'auto' ? Math.max(1, availableParallelism()) : wanted;
}

/** The host name as a part of an id: safe characters only, at most 40 of them. */
function hostPart(): string {
  return hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 40);
}

/** A gateway id unique in the cluster when none is configured (like the Gateway's own default). */
export function defaultGatewayId(): string {
  return `gw-${hostPart()}-${randomBytes(4).toString('hex')}`;
}

export function defaultInstanceName(): string {
  return `im-${hostPart()}-${randomBytes(3).toString('hex')}`;
}

// `ambrosia services list [domain]`: the domain services registered in the cluster, each
// instance with the gateways it is connected to, its weight, draining flag and epoch.
import type { Command } from 'commander';
import { SERVICE_TYPES, type ServiceInstance, type ServiceType } from '@ambrosia/registry';
import { CliError, type Output } from '../output.js';
import { withRegistry } from '../registry.js';
import { iso, registryMessage, registryOption, relative, serviceDomain, table } from './admin-shared.js';

interface InstanceOut {
  domain: string;
  type: ServiceType;
  instance: string;
  gateways: string[];
  weight: number;
  draining: boolean;
  epoch: number;
  leaseExpiresAt: string;
}

function instanceOut(s: ServiceInstance): InstanceOut {
  return {
    domain: s.domain,
    type: s.type,
    instance: s.instanceId,
    gateways: [...s.gateways],
    weight: s.weight,
    draining: s.draining,
    epoch: s.epoch,
    leaseExpiresAt: iso(s.expiresAt),
  };
}

function instanceTable(instances: readonly ServiceInstance[]): string {
  return table(
    ['service', 'instance', 'gateways', 'weight', 'draining', 'epoch', 'lease'],
    instances.map((s) => [`${s.domain}/${s.type}`, s.instanceId, s.gateways.join(','), String(s.weight), s.draining ? 'yes' : 'no', String(s.epoch), `expires ${relative(s.expiresAt)}`]),
  );
}

const SORT = (a: ServiceInstance, b: ServiceInstance): number =>
  a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : a.type < b.type ? -1 : a.type > b.type ? 1 : a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0;

export function registerServicesCommands(program: Command, getOutput: () => Output): void {
  const services = program.command('services').description('the domain services registered in the cluster and the gateways each instance is connected to');
  const url = registryOption(services);

  services
    .command('list [domain]')
    .description('live instances per domain/type (all domains, or one): gateways, weight, draining, epoch, lease expiry')
    .action(async (domainText: string | undefined) => {
      const domain = domainText === undefined ? undefined : serviceDomain(domainText);
      const instances = await withRegistry(url(), async (registry) => {
        // Every domain/type with a live instance, from the snapshot ready() loaded; each then read from the store.
        let keys: Array<{ domain: string; type: ServiceType }>;
        try {
          keys = domain === undefined ? registry.routing.services().map((s) => ({ domain: s.domain, type: s.type })) : SERVICE_TYPES.map((type) => ({ domain, type }));
        } catch (e) {
          registryMessage(e); // REGISTRY_STALE: the snapshot could not be loaded
        }
        const lists = await Promise.all(keys.map((k) => registry.services.list(k.domain, k.type).catch(registryMessage)));
        return lists.flat().sort(SORT);
      });
      getOutput().result({ services: instances.map(instanceOut) }, () =>
        instances.length === 0 ? `no live service instance${domain === undefined ? '' : ` for ${domain}`}` : instanceTable(instances),
      );
    });

  // Asked for, but the registry lets only an instance's own gateway write its draining flag:
  // services.register needs a gateway announced through the caller's registry (REGISTRY_NOT_OWNER).
  for (const verb of ['drain', 'undrain'] as const) {
    services
      .command(`${verb} <domain> <type> <instance>`, { hidden: true })
      .description('not available yet')
      .action(async () => {
        throw new CliError(
          `services ${verb} is not available yet: the registry lets only the gateway an instance is connected to change its draining flag (an instance drains itself by unregistering when it stops)`,
        );
      });
  }
}

// `ambrosia services list [domain]`: the domain services registered in the cluster, each
// instance with the gateways it is connected to, its weight, draining flag and epoch.
// `services drain|undrain|weight`: change an instance's draining flag or weight through the
// registry's services.setAttributes (a new epoch every gateway's routing cache reloads).
import type { Command } from 'commander';
import { isRegistryError, SERVICE_TYPES, type ServiceAttributes, type ServiceInstance, type ServiceType } from '@ambrosia/registry';
import { CliError, EXIT_USAGE, type Output } from '../output.js';
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

  for (const verb of ['drain', 'undrain'] as const) {
    services
      .command(`${verb} <domain> <type> <instance>`)
      .description(
        verb === 'drain'
          ? 'the instance takes no new users: gateways route new users to the other instances (stanzas in flight stay with it)'
          : 'the instance takes new users again',
      )
      .action(async (domainText: string, typeText: string, instanceId: string) => {
        const instance = await setAttributes(url(), serviceDomain(domainText), serviceType(typeText), instanceId, { draining: verb === 'drain' });
        getOutput().result(instanceOut(instance), () =>
          verb === 'drain'
            ? `${instanceName(instance)} is draining (epoch ${instance.epoch}): new users go to the other instances`
            : `${instanceName(instance)} takes new users again (epoch ${instance.epoch})`,
        );
      });
  }

  services
    .command('weight <domain> <type> <instance> <weight>')
    .description(`the instance's relative share of users under rendezvous hashing (0 to ${MAX_WEIGHT}; 0 takes no new users while another instance can)`)
    .action(async (domainText: string, typeText: string, instanceId: string, weightText: string) => {
      const weight = parseWeight(weightText);
      const instance = await setAttributes(url(), serviceDomain(domainText), serviceType(typeText), instanceId, { weight });
      getOutput().result(instanceOut(instance), () => `${instanceName(instance)} has weight ${instance.weight} (epoch ${instance.epoch})`);
    });
}

/** The registry's bound on a weight (docs/registry.md, Limits). */
const MAX_WEIGHT = 1_000_000;

function serviceType(text: string): ServiceType {
  const type = SERVICE_TYPES.find((t) => t === text.toLowerCase());
  if (type === undefined) throw new CliError(`"${text}" is not a service type: one of ${SERVICE_TYPES.join(', ')}`, EXIT_USAGE);
  return type;
}

function parseWeight(text: string): number {
  const weight = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!(weight >= 0 && weight <= MAX_WEIGHT)) throw new CliError(`the weight must be a number from 0 to ${MAX_WEIGHT} (got "${text}")`, EXIT_USAGE);
  return weight;
}

function instanceName(s: ServiceInstance): string {
  return `${s.instanceId} of ${s.domain}/${s.type}`;
}

/** setAttributes, with "no such instance" said with the instances that are live. */
async function setAttributes(registryUrl: string, domain: string, type: ServiceType, instanceId: string, attributes: ServiceAttributes): Promise<ServiceInstance> {
  return withRegistry(registryUrl, async (registry) => {
    try {
      return await registry.services.setAttributes(domain, type, instanceId, attributes);
    } catch (e) {
      if (!isRegistryError(e, 'REGISTRY_NOT_FOUND')) registryMessage(e);
      const live = await registry.services.list(domain, type).catch(() => []);
      throw new CliError(
        `no live instance "${instanceId}" of ${domain}/${type}${live.length > 0 ? ` (live: ${live.map((s) => s.instanceId).join(', ')})` : ''}`,
        1,
        e.code,
      );
    }
  });
}

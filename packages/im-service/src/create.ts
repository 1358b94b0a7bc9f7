// The IM service as a process runs it: a DomainService (the SDK's channel to every gateway) with
// an ImService installed on it.
import { deleteUser, isAuthError, setPassword, type PasswordOptions } from '@ambrosia/auth';
import type { ImStore } from '@ambrosia/im-store';
import { tryParseJID } from '@ambrosia/jid';
import type { Registry } from '@ambrosia/registry';
import { DomainService, type DomainServiceSettings } from '@ambrosia/service-sdk';
import type { AccountDirectory, ImFeatures } from './context.js';
import type { AccountRegistrar } from './features/register.js';
import type { ImServiceLimits } from './limits.js';
import { ImService } from './service.js';

export interface CreateImServiceOptions extends Omit<DomainServiceSettings, 'registrations'> {
  /** The domains served. */
  domains: string | readonly string[];
  /** Default: each domain as `client` (its users' stanzas) and `server` (stanzas arriving over s2s). */
  registrations?: DomainServiceSettings['registrations'];
  store: ImStore;
  features?: ImFeatures;
  limits?: ImServiceLimits;
  /**
   * XEP-0077 password change and cancellation for authenticated users. `true`: through the
   * registry's credentials (@ambrosia/auth; needs `registry`). Default false.
   */
  registration?: boolean | AccountRegistrar;
  /** Password hashing for `registration: true` (iterations, hashes, minimum length). */
  passwordOptions?: PasswordOptions;
  version?: { name: string; version: string };
  /** Default with a registry: the registry's credentials (an account exists when it has credentials). */
  accounts?: AccountDirectory;
}

export interface ImServiceHandle {
  service: DomainService;
  im: ImService;
  /** Connects to the gateways and registers (resolves once registered on at least one). */
  start(): Promise<void>;
  /** Lets offline deliveries finish (bounded), then stops the SDK (bounded). */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/** Accounts are the users with credentials in the registry (created by `ambrosia user add`). */
export function registryAccounts(registry: Registry): AccountDirectory {
  return {
    exists: async (bareJid) => {
      const jid = tryParseJID(bareJid);
      if (jid === undefined || jid.local === '') return false;
      return (await registry.credentials.get(jid.domain, jid.local)) !== undefined;
    },
  };
}

/** XEP-0077 over the registry's credentials, with @ambrosia/auth's user management. */
export function registryRegistrar(registry: Registry, passwordOptions: PasswordOptions = {}): AccountRegistrar {
  const split = (bareJid: string) => {
    const jid = tryParseJID(bareJid);
    if (jid === undefined || jid.local === '') throw new TypeError('not an account JID');
    return jid;
  };
  return {
    changePassword: async (bareJid, password) => {
      const jid = split(bareJid);
      await setPassword(registry.credentials, jid.domain, jid.local, password, passwordOptions);
    },
    remove: async (bareJid) => {
      const jid = split(bareJid);
      try {
        await deleteUser(registry.credentials, jid.domain, jid.local);
      } catch (e) {
        if (!isAuthError(e) || e.code !== 'ERR_AUTH_USER_NOT_FOUND') throw e; // already gone is fine
      }
    },
  };
}

export function createImService(options: CreateImServiceOptions): ImServiceHandle {
  const { domains, registrations, store, features, limits, registration: registrationOption, passwordOptions, version, accounts, ...sdkOptions } = options;
  let registration: false | AccountRegistrar = false;
  if (registrationOption === true) {
    if (options.registry === undefined) throw new TypeError('registration: true needs a registry (the credentials live there)');
    registration = registryRegistrar(options.registry, passwordOptions);
  } else if (registrationOption !== undefined && registrationOption !== false) registration = registrationOption;
  const list = typeof domains === 'string' ? [domains] : [...domains];
  const service = new DomainService({
    ...sdkOptions,
    registrations: registrations ?? list.flatMap((domain) => [
      { domain, type: 'client' as const },
      { domain, type: 'server' as const },
    ]),
  });
  const im = new ImService({
    service,
    store,
    domains: list,
    ...(features === undefined ? {} : { features }),
    ...(limits === undefined ? {} : { limits }),
    registration,
    ...(version === undefined ? {} : { version }),
    ...(accounts !== undefined ? { accounts } : options.registry !== undefined ? { accounts: registryAccounts(options.registry) } : {}),
    ...(options.onError === undefined ? {} : { onError: options.onError }),
  });
  im.start(); // handlers are in place before the first gateway can deliver
  return {
    service,
    im,
    start: () => service.start(),
    stop: async (stopOptions) => {
      await im.stop();
      await service.stop(stopOptions);
    },
  };
}

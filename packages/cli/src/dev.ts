// The embedded single-process system behind `ambrosia dev`: an in-memory registry, a cluster CA
// made at start, a gateway, the IM service connected to it over a real (loopback, mutual TLS)
// service channel, and accounts. Everything a production cluster runs, in one process.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { addUser } from '@ambrosia/auth';
import { Gateway } from '@ambrosia/gateway';
import { createImService, type ImServiceHandle } from '@ambrosia/im-service';
import { createMemoryImStore } from '@ambrosia/im-store';
import { createCA, issueCertificate } from '@ambrosia/pki';
import { createMemoryRegistry, type Registry } from '@ambrosia/registry';

export interface DevAccount {
  user: string;
  password: string;
}

export interface DevOptions {
  domain: string;
  /** Address every listener binds. */
  host: string;
  ports: { c2s: number; c2sTls: number; service: number };
  /** Where the CA certificate clients must trust is written. */
  dataDir: string;
  /** Accounts besides the demo user. */
  accounts: readonly DevAccount[];
  /** The demo user's password; random when absent. */
  demoPassword?: string;
  /** Where log lines go (JSON, one per line); none when absent. */
  log?: (line: string) => void;
}

export interface DevInfo {
  domain: string;
  host: string;
  ports: { c2s: number; c2sTls: number; service: number };
  caCertPath: string;
  accounts: Array<{ jid: string; password: string }>;
}

export interface DevSystem {
  info: DevInfo;
  stop(): Promise<void>;
}

export const DEMO_USER = 'demo';

export async function startDev(options: DevOptions): Promise<DevSystem> {
  const registry: Registry = createMemoryRegistry();
  let gateway: Gateway | undefined;
  let im: ImServiceHandle | undefined;
  const stop = async (): Promise<void> => {
    await im?.stop({ timeoutMs: 5_000 }).catch(() => undefined);
    await gateway?.stop({ timeoutMs: 5_000 }).catch(() => undefined);
    await registry.close().catch(() => undefined);
  };
  try {
    await registry.ready();
    const ca = await createCA({ commonName: `Ambrosia dev CA for ${options.domain}` });
    const dataDir = resolve(options.dataDir);
    await mkdir(dataDir, { recursive: true });
    const caCertPath = join(dataDir, 'ca.crt');
    await writeFile(caCertPath, ca.certPem);

    const accounts: DevInfo['accounts'] = [];
    for (const account of [{ user: DEMO_USER, password: options.demoPassword ?? randomBytes(9).toString('base64url') }, ...options.accounts]) {
      const created = await addUser(registry.credentials, options.domain, account.user, account.password);
      accounts.push({ jid: `${created.user}@${created.domain}`, password: account.password });
    }

    const log = options.log;
    gateway = new Gateway({
      registry,
      host: options.host,
      ports: options.ports,
      ca: { cert: ca.certPem, key: ca.keyPem },
      ...(log ? { logger: (level, event, fields) => log(JSON.stringify({ level, event, ...fields })) } : {}),
    });
    const started = await gateway.start();

    const serviceCert = await issueCertificate(ca, {
      role: 'service',
      commonName: 'im-dev',
      permissions: [
        { domain: options.domain, type: 'client' },
        { domain: options.domain, type: 'server' },
      ],
    });
    im = createImService({
      domains: options.domain,
      store: createMemoryImStore(),
      registry,
      instance: 'im-dev',
      tls: { cert: serviceCert.certPem, key: serviceCert.keyPem, ca: ca.certPem },
      ...(log ? { onError: (error: Error) => log(JSON.stringify({ level: 'error', event: 'im-service', error: error.stack ?? error.message })) } : {}),
    });
    await im.start();

    return {
      info: { domain: options.domain, host: options.host, ports: started.ports, caCertPath, accounts },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

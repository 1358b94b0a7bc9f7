// Building blocks for cluster end-to-end tests: a cluster CA, real Redis (testing-redis), one
// registry-redis registry per node (as separate machines would have), Gateways on ephemeral
// ports, IM service instances in this process (createImService + im-store-redis) or in child
// processes (im-process.mjs, so a test can SIGKILL them), users made with @ambrosia/auth.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addUser } from '@ambrosia/auth';
import { Gateway, type GatewayOptions } from '@ambrosia/gateway';
import { createImService, type ImServiceHandle } from '@ambrosia/im-service';
import type { ImStore } from '@ambrosia/im-store';
import { createRedisImStore } from '@ambrosia/im-store-redis';
import { createCA, issueCertificate, type CertificateAuthority } from '@ambrosia/pki';
import type { Registry } from '@ambrosia/registry';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import { startProcess } from './processes.js';

export const DOMAIN = 'example.org';
export const PASSWORD = 'correct horse battery staple';
export const supportDir = fileURLToPath(new URL('.', import.meta.url));

/**
 * How long a gateway keeps the channel of a service instance that vanished (SIGKILL, network)
 * before its unacknowledged stanzas move to another instance (service-protocol §10.5). The
 * protocol default is 60 s; a cluster sets it to its tolerance, these tests to 1.5 s
 * (AMBROSIA_E2E_RESUME_TIMEOUT_MS overrides it, to watch the defaults at work).
 */
export const TEST_RESUME_TIMEOUT_MS = Number(process.env.AMBROSIA_E2E_RESUME_TIMEOUT_MS ?? '1500');

export async function clusterCA(): Promise<CertificateAuthority> {
  return createCA({ commonName: 'Ambrosia cluster e2e CA' });
}

/** A registry node of its own on the shared Redis, ready. */
export async function redisRegistry(url: string): Promise<Registry> {
  const registry = createRedisRegistry({ url, heartbeatIntervalMs: 1_000 });
  await registry.ready();
  return registry;
}

export interface RunningGateway {
  id: string;
  gateway: Gateway;
  registry: Registry;
  ports: { c2s: number; c2sTls: number; service: number };
  /** Stops the gateway (bounded) and closes its registry node. */
  stop(): Promise<void>;
}

export async function startGateway(options: {
  id: string;
  redisUrl: string;
  ca: CertificateAuthority;
  ports?: { c2s: number; c2sTls: number; service: number };
  logger?: GatewayOptions['logger'];
}): Promise<RunningGateway> {
  const registry = await redisRegistry(options.redisUrl);
  const gateway = new Gateway({
    id: options.id,
    registry,
    host: '127.0.0.1',
    ports: options.ports ?? { c2s: 0, c2sTls: 0, service: 0 },
    ca: { cert: options.ca.certPem, key: options.ca.keyPem },
    auth: { minResponseMs: 1 },
    hub: { channel: { resumeTimeoutMs: TEST_RESUME_TIMEOUT_MS } },
    ...(options.logger ? { logger: options.logger } : {}),
  });
  try {
    const { ports } = await gateway.start();
    return {
      id: options.id,
      gateway,
      registry,
      ports,
      async stop() {
        await gateway.stop({ timeoutMs: 3_000 }).catch(() => undefined);
        await registry.close().catch(() => undefined);
      },
    };
  } catch (e) {
    await registry.close().catch(() => undefined);
    throw e;
  }
}

/** A service certificate for the given domains (client and server). */
export function serviceCertificate(ca: CertificateAuthority, name: string, domains: readonly string[]) {
  return issueCertificate(ca, {
    role: 'service',
    commonName: name,
    permissions: domains.flatMap((domain) => [
      { domain, type: 'client' as const },
      { domain, type: 'server' as const },
    ]),
  });
}

export interface RunningIm {
  handle: ImServiceHandle;
  store: ImStore;
  registry: Registry;
  errors: Error[];
  stop(): Promise<void>;
}

/** An IM service instance in this process: createImService on a Redis store and its own registry node. */
export async function startImInProcess(options: { redisUrl: string; ca: CertificateAuthority; instance: string; domain?: string }): Promise<RunningIm> {
  const domain = options.domain ?? DOMAIN;
  const registry = await redisRegistry(options.redisUrl);
  const store = await createRedisImStore({ url: options.redisUrl });
  const cert = await serviceCertificate(options.ca, options.instance, [domain]);
  const errors: Error[] = [];
  const handle = createImService({
    domains: domain,
    store,
    registry,
    instance: options.instance,
    tls: { cert: cert.certPem, key: cert.keyPem, ca: options.ca.certPem },
    discoveryIntervalMs: 500,
    reconnectBackoff: { initialMs: 50, maxMs: 500 },
    onError: (error) => {
      if (errors.length < 1_000) errors.push(error);
    },
  });
  await handle.start();
  return {
    handle,
    store,
    registry,
    errors,
    async stop() {
      await handle.stop({ timeoutMs: 3_000 }).catch(() => undefined);
      await store.close().catch(() => undefined);
      await registry.close().catch(() => undefined);
    },
  };
}

/** Files a child process needs: the CA certificate and a service certificate and key. */
export async function writeServiceMaterial(ca: CertificateAuthority, name: string, domains: readonly string[]) {
  const dir = await mkdtemp(join(tmpdir(), 'ambrosia-e2e-cluster-'));
  const cert = await serviceCertificate(ca, name, domains);
  const files = { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'service.crt'), keyFile: join(dir, 'service.key') };
  await writeFile(files.caFile, ca.certPem);
  await writeFile(files.certFile, cert.certPem);
  await writeFile(files.keyFile, cert.keyPem, { mode: 0o600 });
  return { ...files, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Starts a service script (im-process.mjs, recorder-service.mjs) in a child process, from the
 * built dist of the packages, and waits (bounded) for it to print "ready".
 */
export async function startServiceProcess(script: string, env: NodeJS.ProcessEnv, timeoutMs = 30_000) {
  const child = startProcess(process.execPath, [join(supportDir, script)], { env });
  await child.until((out) => out.includes('"ready"'), timeoutMs);
  return child;
}

export async function addUsers(registry: Registry, names: readonly string[], domain = DOMAIN): Promise<void> {
  // 4096 iterations: the RFC 7677 minimum, cheap enough for many logins in a test.
  for (const name of names) await addUser(registry.credentials, domain, name, PASSWORD, { iterations: 4_096 });
}

/** Polls `condition` until true (at most `timeoutMs`). */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Waits until every gateway holds a channel from `count` instances of the domain's client
 * service (each gateway routes only to instances connected to it) and the registry lists them.
 */
export async function instancesRegistered(gateways: readonly RunningGateway[], count: number, timeoutMs = 15_000, domain = DOMAIN): Promise<void> {
  await eventually(
    () => gateways.every((g) => connectedInstances(g, domain) === count),
    timeoutMs,
    `${count} instances of ${domain} on every gateway`,
  );
}

function connectedInstances(g: RunningGateway, domain: string): number {
  return g.registry.routing.instances(domain, 'client').filter((i) => i.gateways.includes(g.id)).length;
}

// What the runtime tests share: a real Redis, a cluster CA on disk, accounts, configuration
// files, and a recording domain service (service SDK) that serves the test domain.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUser } from '@ambrosia/auth';
import { createCA, issueCertificate, writeCAFiles, type CertificateAuthority } from '@ambrosia/pki';
import type { Registry } from '@ambrosia/registry';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import { DomainService } from '@ambrosia/service-sdk';
import { startRedis, type RedisServer } from '@ambrosia/testing-redis';

export const DOMAIN = 'example.test';
export const PASSWORD = 'S3cret-Pa55word!';

export interface Fixture {
  dir: string;
  caDir: string;
  ca: CertificateAuthority;
  redis: RedisServer;
  registry: Registry;
  /** Writes a YAML configuration file and returns its path. */
  config(name: string, yaml: string): Promise<string>;
  /** The lines every gateway configuration here starts with: this registry, ephemeral ports. */
  gatewayHead(id: string, processes: number): string[];
  addUsers(count: number, prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function createFixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'ambrosia-runtime-test-'));
  const caDir = join(dir, 'ca');
  const ca = await createCA({ commonName: 'runtime test CA' });
  await writeCAFiles(caDir, ca);
  const redis = await startRedis();
  const registry = createRedisRegistry({ url: redis.url, connectionName: 'runtime-test' });
  await registry.ready({ timeoutMs: 10_000 });
  return {
    dir,
    caDir,
    ca,
    redis,
    registry,
    async config(name, yaml) {
      const path = join(dir, name);
      await writeFile(path, yaml);
      return path;
    },
    gatewayHead(id, processes) {
      return ['registry:', `  url: ${redis.url}`, 'gateway:', `  id: ${id}`, '  ports: { c2s: 0, c2sTls: 0, service: 0 }', `  processes: ${processes}`];
    },
    async addUsers(count, prefix) {
      const names = Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
      for (const name of names) await addUser(registry.credentials, DOMAIN, name, PASSWORD, { iterations: 4096 });
      return names;
    },
    async close() {
      await registry.close().catch(() => undefined);
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RecordingService {
  service: DomainService;
  /** `<bare JID>|<stanza id>` of every message handled, in order. */
  received: Set<string>;
  /** Resolves once the service is registered on every named gateway (bounded). */
  registeredOn(gatewayIds: readonly string[], timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A domain service for DOMAIN that records every message it is handed. */
export async function startRecordingService(fixture: Fixture, instance: string): Promise<RecordingService> {
  const pair = await issueCertificate(fixture.ca, { role: 'service', commonName: instance, permissions: [{ domain: DOMAIN, type: 'client' }] });
  const registry = createRedisRegistry({ url: fixture.redis.url, connectionName: instance });
  await registry.ready({ timeoutMs: 10_000 });
  const received = new Set<string>();
  const service = new DomainService({
    registrations: [{ domain: DOMAIN, type: 'client' }],
    tls: { cert: pair.certPem, key: pair.keyPem, ca: fixture.ca.certPem },
    registry,
    instance,
    // Workers are killed and restarted on purpose here; under a loaded CI machine a restart can
    // take seconds, and the default 10 s backoff cap would then dominate the wait.
    reconnectBackoff: { initialMs: 100, maxMs: 1_000 },
    onError: () => undefined, // links drop on purpose in these tests
  });
  service.onStanza(async ({ element, origin }) => {
    if (element.getName() === 'message' && element.attrs.id !== undefined) received.add(`${String(origin).split('/')[0]}|${String(element.attrs.id)}`);
  });
  await service.start();
  return {
    service,
    received,
    async registeredOn(gatewayIds, timeoutMs = 40_000) {
      const deadline = Date.now() + timeoutMs;
      while (!gatewayIds.every((id) => service.gateways.includes(id))) {
        if (Date.now() > deadline) throw new Error(`service registered on ${service.gateways.join(', ')}, not on all of ${gatewayIds.join(', ')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      await service.stop({ timeoutMs: 5_000 }).catch(() => undefined);
      await registry.close().catch(() => undefined);
    },
  };
}

/** Polls `check` until it returns a value other than undefined (bounded). */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, what = 'a condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

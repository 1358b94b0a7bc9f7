// `ambrosia check config [file]` and the configuration errors of `ambrosia gateway`: one line per
// problem naming the key, exit code 2, nothing started.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCA, issueCertificate, writeCAFiles, writeCertificateFiles } from '@ambrosia/pki';
import { ensureBuilt, killAll, startAmbrosia } from './support/ambrosia-process.js';
import { run } from './run.js';

let dir: string;
const saved = { ...process.env };
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ambrosia-check-test-'));
  for (const name of Object.keys(process.env)) if (name.startsWith('AMBROSIA_')) delete process.env[name];
  const ca = await createCA();
  await writeCAFiles(join(dir, 'ca'), ca);
  const other = await createCA();
  const gw = await issueCertificate(ca, { role: 'gateway', commonName: 'gw-1', dnsNames: ['gw1.example'] });
  const foreign = await issueCertificate(other, { role: 'gateway', commonName: 'gw-2' });
  await writeCertificateFiles(join(dir, 'certs'), 'gw-1', gw);
  await writeFile(join(dir, 'certs', 'wrong.key'), foreign.keyPem);
});
afterAll(async () => {
  process.env = saved;
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

async function yaml(name: string, lines: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

describe('ambrosia check config', () => {
  it('accepts a valid file and says what it checked; --json prints the effective configuration', async () => {
    const path = await yaml('ok.yaml', ['registry:', '  url: redis://u:pw@127.0.0.1:7000', 'gateway:', '  tls: { caDir: ca }', 'imService:', '  domains: [example.org]', '  tls: { caDir: ca }']);
    const human = await run('check', 'config', path);
    expect(human).toEqual({ code: 0, out: `configuration OK: ${path}; checked for gateway and im-service\n`, err: '' });
    const json = await run('--json', 'check', 'config', path, '--role', 'im-service');
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.out) as { valid: boolean; roles: string[]; config: { registry: { url: string }; gateway: { ports: unknown } } };
    expect(parsed.valid).toBe(true);
    expect(parsed.roles).toEqual(['im-service']);
    expect(parsed.config.registry.url).toBe('redis://u:***@127.0.0.1:7000'); // never the password
    expect(parsed.config.gateway.ports).toEqual({ c2s: 5222, c2sTls: 5223, service: 5347 });
  });

  it('runs on defaults with no file at all (the CA in ./ambrosia-ca)', async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      process.env.AMBROSIA_CA_DIR = join(dir, 'ca');
      expect(await run('check', 'config')).toEqual({ code: 0, out: 'configuration OK: defaults (no file); checked for gateway\n', err: '' });
      delete process.env.AMBROSIA_CA_DIR;
      const missing = await run('check', 'config');
      expect(missing.code).toBe(2);
      expect(missing.err).toContain(`ambrosia: config: gateway.tls.caDir: cannot read ${join(dir, 'ambrosia-ca', 'ca.crt')}: no such file`);
    } finally {
      process.chdir(cwd);
    }
  });

  it('prints one `ambrosia: config:` line per problem and exits 2', async () => {
    const path = await yaml('bad.yaml', ['gateway:', '  ports:', '    c2s: abc', '  procesess: 2', '  tls:', '    caDir: ca', '    channelCert: certs/missing.crt', '    channelKey: certs/gw-1.key', '    caCert: ca/ca.crt']);
    const r = await run('check', 'config', path);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      [
        'ambrosia: config: gateway.ports.c2s: must be a port from 0 to 65535 (got "abc")',
        'ambrosia: config: gateway.procesess: unknown key (did you mean processes?)',
        '',
      ].join('\n'),
    );
    const files = await yaml('files.yaml', ['gateway:', '  tls:', '    caDir: ca', '    channelCert: certs/missing.crt', '    channelKey: certs/gw-1.key', '    caCert: ca/ca.crt']);
    const f = await run('check', 'config', files);
    expect(f.code).toBe(2);
    expect(f.err).toBe(`ambrosia: config: gateway.tls.channelCert: cannot read ${join(dir, 'certs', 'missing.crt')}: no such file\n`);
    process.env.AMBROSIA_GATEWAY_PORTS_SERVICE = 'lots';
    try {
      const e = await run('check', 'config', await yaml('env.yaml', ['gateway:', '  tls: { caDir: ca }']));
      expect(e.err).toBe('ambrosia: config: gateway.ports.service: must be a port from 0 to 65535 (got "lots") (from AMBROSIA_GATEWAY_PORTS_SERVICE)\n');
    } finally {
      delete process.env.AMBROSIA_GATEWAY_PORTS_SERVICE;
    }
  });

  it('loads the certificates: a key that is not the certificate’s is named', async () => {
    const path = await yaml('mismatch.yaml', ['gateway:', '  tls:', '    channelCert: certs/gw-1.crt', '    channelKey: certs/wrong.key', '    caCert: ca/ca.crt']);
    const r = await run('check', 'config', path);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`ambrosia: config: gateway.tls.channelKey: ${join(dir, 'certs', 'wrong.key')} is not the key of ${join(dir, 'certs', 'gw-1.crt')}\n`);
    const good = await yaml('good.yaml', ['gateway:', '  tls:', '    channelCert: certs/gw-1.crt', '    channelKey: certs/gw-1.key', '    caCert: ca/ca.crt']);
    expect((await run('check', 'config', good)).code).toBe(0);
  });

  it('refuses a bad --role and a missing named file', async () => {
    expect((await run('check', 'config', '--role', 'router')).err).toBe('ambrosia: --role must be gateway or im-service (got "router")\n');
    const r = await run('check', 'config', join(dir, 'nope.yaml'));
    expect(r).toEqual({ code: 2, out: '', err: `ambrosia: config: ${join(dir, 'nope.yaml')}: no such file\n` });
  });
});

describe('ambrosia gateway refuses a bad configuration before starting', () => {
  it('exits 2 with the problem, and 1 when the registry cannot be reached', async () => {
    ensureBuilt();
    const bad = startAmbrosia(['gateway'], { cwd: dir, env: { AMBROSIA_GATEWAY_PORTS_C2S: 'abc', AMBROSIA_CA_DIR: join(dir, 'ca') } });
    expect(await bad.exit(15_000)).toEqual({ code: 2, signal: null });
    expect(bad.stderr).toBe('ambrosia: config: gateway.ports.c2s: must be a port from 0 to 65535 (got "abc") (from AMBROSIA_GATEWAY_PORTS_C2S)\n');
    expect(bad.stdout).toBe('');
    // Nothing listens on this port: the registry is unreachable within readyTimeoutMs.
    const unreachable = startAmbrosia(['gateway'], {
      cwd: dir,
      env: { AMBROSIA_CA_DIR: join(dir, 'ca'), AMBROSIA_REGISTRY_URL: 'redis://127.0.0.1:1', AMBROSIA_REGISTRY_READY_TIMEOUT_MS: '500', AMBROSIA_GATEWAY_PROCESSES: '1', AMBROSIA_GATEWAY_PORTS_C2S: '0', AMBROSIA_GATEWAY_PORTS_C2S_TLS: '0', AMBROSIA_GATEWAY_PORTS_SERVICE: '0' },
    });
    expect(await unreachable.exit(15_000)).toEqual({ code: 1, signal: null });
    expect(unreachable.stderr).toMatch(/^ambrosia: cannot reach the registry at redis:\/\/127\.0\.0\.1:1 within 500 ms/);
    // With workers, a worker that fails its first start stops the whole gateway (a restart would not help).
    const workers = startAmbrosia(['gateway'], {
      cwd: dir,
      env: { AMBROSIA_CA_DIR: join(dir, 'ca'), AMBROSIA_REGISTRY_URL: 'redis://127.0.0.1:1', AMBROSIA_REGISTRY_READY_TIMEOUT_MS: '500', AMBROSIA_GATEWAY_PROCESSES: '2', AMBROSIA_GATEWAY_PORTS_C2S: '0', AMBROSIA_GATEWAY_PORTS_C2S_TLS: '0', AMBROSIA_GATEWAY_PORTS_SERVICE: '0' },
    });
    expect(await workers.exit(20_000)).toEqual({ code: 1, signal: null });
    expect(workers.stderr).toMatch(/^ambrosia: cannot reach the registry at redis:\/\/127\.0\.0\.1:1 within 500 ms/);
    expect(workers.events.filter((e) => e.event === 'worker-start-failed').length).toBeGreaterThan(0);
  }, 60_000);
});

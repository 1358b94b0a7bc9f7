import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkConfigFiles,
  configJsonSchema,
  configLeaves,
  envName,
  envTable,
  formatProblem,
  isConfigError,
  loadConfig,
  pathKeyNames,
  type ConfigProblem,
} from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ambrosia-config-test-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
  return path;
}

/** The problems loadConfig reports, as the CLI prints them (without its `ambrosia: ` prefix). */
async function problems(options: Parameters<typeof loadConfig>[0]): Promise<string[]> {
  try {
    await loadConfig(options);
  } catch (error) {
    if (isConfigError(error)) return error.problems.map(formatProblem);
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';

describe('loadConfig', () => {
  it('runs on defaults with no file and no environment', async () => {
    const { config, file: used, env } = await loadConfig({ env: {}, cwd: dir, useDefaultFile: false });
    expect(used).toBeUndefined();
    expect(env).toEqual([]);
    expect(config).toEqual({
      registry: { url: 'redis://127.0.0.1:6379', readyTimeoutMs: 10_000 },
      gateway: {
        host: '127.0.0.1',
        ports: { c2s: 5222, c2sTls: 5223, service: 5347 },
        processes: 'auto',
        tls: { caDir: join(dir, 'ambrosia-ca') },
        stopTimeoutMs: 10_000,
      },
      log: { level: 'info', pretty: false },
    });
  });

  it('reads ./ambrosia.yaml when present, AMBROSIA_CONFIG or a named file otherwise', async () => {
    const cwd = join(dir, 'cwd');
    await file('cwd/ambrosia.yaml', 'log:\n  level: debug\n');
    await file('cwd/other.yaml', 'log:\n  level: warn\n');
    expect((await loadConfig({ env: {}, cwd })).config.log.level).toBe('debug');
    expect((await loadConfig({ env: { AMBROSIA_CONFIG: 'other.yaml' }, cwd })).config.log.level).toBe('warn');
    expect((await loadConfig({ env: {}, cwd, file: 'other.yaml' })).file).toBe(join(cwd, 'other.yaml'));
    expect(await problems({ env: {}, cwd, file: 'missing.yaml' })).toEqual([`config: ${join(cwd, 'missing.yaml')}: no such file`]);
  });

  it('lets AMBROSIA_<PATH> variables override the file, read by the type of each key', async () => {
    const path = await file(
      'override.yaml',
      ['registry:', '  url: redis://file:6379', 'gateway:', '  ports:', '    c2s: 1', '  processes: 2', 'imService:', '  domains: [a.example]'].join('\n'),
    );
    const { config, env } = await loadConfig({
      file: path,
      cwd: dir,
      env: {
        AMBROSIA_REGISTRY_URL: 'redis://env:6380',
        AMBROSIA_GATEWAY_PORTS_C2S: '6222',
        AMBROSIA_GATEWAY_PORTS_C2S_TLS: 'null',
        AMBROSIA_GATEWAY_PROCESSES: 'auto',
        AMBROSIA_GATEWAY_ADDRESSES: 'gw1.example, 10.0.0.1',
        AMBROSIA_GATEWAY_STREAM_SM_ENABLED: 'false',
        AMBROSIA_IM_SERVICE_DOMAINS: 'b.example,c.example',
        AMBROSIA_GATEWAY_DOMAIN_CERTIFICATES: JSON.stringify([{ domain: 'b.example', cert: 'b.crt', key: 'b.key' }]),
        AMBROSIA_LOG_PRETTY: 'true',
        AMBROSIA_CA_DIR: 'elsewhere', // another command's variable: not a key, and the CA default
        PATH: '/usr/bin',
      },
    });
    expect(config.registry.url).toBe('redis://env:6380');
    expect(config.gateway.ports).toEqual({ c2s: 6222, c2sTls: null, service: 5347 });
    expect(config.gateway.processes).toBe('auto');
    expect(config.gateway.addresses).toEqual(['gw1.example', '10.0.0.1']);
    expect(config.gateway.stream).toEqual({ sm: { enabled: false } });
    expect(config.imService?.domains).toEqual(['b.example', 'c.example']);
    // Relative paths from the environment are taken from the working directory.
    expect(config.gateway.domainCertificates).toEqual([{ domain: 'b.example', cert: join(dir, 'b.crt'), key: join(dir, 'b.key') }]);
    expect(config.gateway.tls.caDir).toBe(join(dir, 'elsewhere'));
    expect(config.log.pretty).toBe(true);
    expect(env).toEqual([
      'AMBROSIA_GATEWAY_ADDRESSES',
      'AMBROSIA_GATEWAY_DOMAIN_CERTIFICATES',
      'AMBROSIA_GATEWAY_PORTS_C2S',
      'AMBROSIA_GATEWAY_PORTS_C2S_TLS',
      'AMBROSIA_GATEWAY_PROCESSES',
      'AMBROSIA_GATEWAY_STREAM_SM_ENABLED',
      'AMBROSIA_IM_SERVICE_DOMAINS',
      'AMBROSIA_LOG_PRETTY',
      'AMBROSIA_REGISTRY_URL',
    ]);
  });

  it('takes relative paths in the file from the file’s directory', async () => {
    const path = await file('sub/paths.yaml', 'gateway:\n  tls:\n    channelCert: certs/gw.crt\n    channelKey: /abs/gw.key\n    caCert: ../ca.crt\n');
    const { config } = await loadConfig({ file: path, env: {}, cwd: '/' });
    expect(config.gateway.tls).toEqual({ channelCert: join(dir, 'sub/certs/gw.crt'), channelKey: '/abs/gw.key', caCert: join(dir, 'ca.crt') });
  });

  it('reports every problem, one line each, naming the key and the value', async () => {
    const path = await file(
      'bad.yaml',
      [
        'registry:',
        '  url: http://user:hunter2@example', // the password must not be echoed
        'gatway: {}',
        'gateway:',
        '  ports:',
        '    c2s: abc',
        '    service: 70000',
        '  processes: 0',
        '  stopTimeoutMs: -5',
        '  tls:',
        '    channelCert: gw.crt',
        'imService:',
        '  registration: yes-please',
        'log:',
        '  level: loud',
        '  colour: true',
      ].join('\n'),
    );
    expect(await problems({ file: path, env: {} })).toEqual([
      'config: registry.url: must start with redis://, rediss://, redis-sentinel:// or redis-cluster:// (got "http://user:***@example")',
      'config: gateway.ports.c2s: must be a port from 0 to 65535 (got "abc")',
      'config: gateway.ports.service: must be a port from 0 to 65535 (got 70000)',
      'config: gateway.processes: must be "auto" or a whole number from 1 to 256 (got 0)',
      'config: gateway.stopTimeoutMs: must be a whole number of milliseconds from 1 to 2147483647 (the graceful stop bound) (got -5)',
      'config: imService.domains: is missing (must be a list of domains)',
      'config: imService.registration: must be true or false (got "yes-please")',
      'config: log.level: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
      'config: log.colour: unknown key',
      'config: gatway: unknown key (did you mean gateway?)',
    ]);
  });

  it('names the variable a bad value came from, and refuses unknown variables of its sections', async () => {
    expect(
      await problems({
        env: { AMBROSIA_GATEWAY_PORTS_C2S: 'abc', AMBROSIA_GATEWAY_PORT: '1', AMBROSIA_DEBUG_SOMETHING: 'x', AMBROSIA_GATEWAY_DOMAIN_CERTIFICATES: '[{' },
        useDefaultFile: false,
      }),
    ).toEqual([
      'config: AMBROSIA_GATEWAY_PORT: no such setting (did you mean AMBROSIA_GATEWAY_HOST?)',
      'config: gateway.domainCertificates: must be a JSON list (from AMBROSIA_GATEWAY_DOMAIN_CERTIFICATES)',
      'config: gateway.ports.c2s: must be a port from 0 to 65535 (got "abc") (from AMBROSIA_GATEWAY_PORTS_C2S)',
    ]);
  });

  it('checks the PROXY protocol’s trusted addresses', async () => {
    const path = await file('proxy.yaml', 'gateway:\n  proxyProtocol:\n    trusted: [10.0.0.0/8, "2001:db8::/32", 192.0.2.7, 10.0.0.0/33, lb.example]\n    listeners: [c2s, s2s]\n');
    expect(await problems({ file: path, env: {} })).toEqual([
      'config: gateway.proxyProtocol.trusted[3]: must be an IP address or a CIDR range like 10.0.0.0/8 (got "10.0.0.0/33")',
      'config: gateway.proxyProtocol.trusted[4]: must be an IP address or a CIDR range like 10.0.0.0/8 (got "lb.example")',
      'config: gateway.proxyProtocol.listeners[1]: must be c2s or c2sTls (got "s2s")',
    ]);
    const ok = await loadConfig({ env: { AMBROSIA_GATEWAY_PROXY_PROTOCOL_TRUSTED: '10.0.0.0/8,::1' }, useDefaultFile: false });
    expect(ok.config.gateway.proxyProtocol).toEqual({ trusted: ['10.0.0.0/8', '::1'], listeners: ['c2s', 'c2sTls'] });
  });

  it('checks rules across keys: all three channel files, at least one client listener', async () => {
    const path = await file('cross.yaml', 'gateway:\n  ports: { c2s: null, c2sTls: null }\n  tls:\n    channelCert: gw.crt\n');
    expect(await problems({ file: path, env: {} })).toEqual([
      'config: gateway.tls.channelKey: is needed with channelCert (give all three files, or none and caDir)',
      'config: gateway.tls.caCert: is needed with channelCert (give all three files, or none and caDir)',
      'config: gateway.ports: c2s and c2sTls are both off: a gateway needs at least one client listener',
    ]);
  });

  it('reports YAML syntax errors with their line and column, and refuses duplicate keys and a non-mapping', async () => {
    const broken = await file('broken.yaml', 'gateway:\n  ports: [1, 2\n');
    const [line] = await problems({ file: broken, env: {} });
    expect(line).toMatch(new RegExp(`^config: ${broken}:\\d+:\\d+: `));
    const duplicate = await file('dup.yaml', 'log:\n  level: info\n  level: debug\n');
    expect((await problems({ file: duplicate, env: {} }))[0]).toMatch(/dup\.yaml:3:3: Map keys must be unique/);
    const list = await file('list.yaml', '- a\n- b\n');
    expect(await problems({ file: list, env: {} })).toEqual([`config: ${list}: must be a mapping of sections (registry, gateway, imService, log)`]);
    expect((await loadConfig({ file: await file('empty.yaml', '# nothing\n'), env: {} })).config.log.level).toBe('info');
  });

  it('stops YAML alias bombs', async () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`)].join('\n');
    const [line] = await problems({ file: await file('bomb.yaml', bomb), env: {} });
    expect(line).toMatch(/alias/i);
  });
});

describe('checkConfigFiles', () => {
  it('names the key of a missing, unreadable or non-PEM file', async () => {
    await file('files/gw.crt', PEM_CERT);
    await file('files/gw.key', 'not a key');
    await file('files/ca/ca.crt', PEM_CERT);
    await file('files/secret', 'short');
    const path = await file(
      'files/ambrosia.yaml',
      [
        'gateway:',
        '  tls:',
        '    caDir: ca',
        '    channelCert: gw.crt',
        '    channelKey: gw.key',
        '    caCert: missing.crt',
        '  domainCertificates:',
        '    - { domain: a.example, cert: gw.crt, key: nope.key }',
        '  auth:',
        '    decoySecretFile: secret',
        'imService:',
        '  domains: [a.example]',
        '  tls: { cert: gw.crt, key: gw.crt, caCert: gw.crt }',
      ].join('\n'),
    );
    const { config } = await loadConfig({ file: path, env: {} });
    const found: ConfigProblem[] = [];
    try {
      await checkConfigFiles(config, ['gateway', 'im-service']);
    } catch (error) {
      if (!isConfigError(error)) throw error;
      found.push(...error.problems);
    }
    const at = (name: string): string => join(dir, 'files', name);
    expect(found.map(formatProblem)).toEqual([
      `config: gateway.tls.channelKey: ${at('gw.key')} holds no PEM private key`,
      `config: gateway.tls.caCert: cannot read ${at('missing.crt')}: no such file`,
      `config: gateway.tls.caDir: cannot read ${at('ca/ca.key')}: no such file (create the CA with \`ambrosia ca init --dir ${at('ca')}\`, or give certificate files)`,
      `config: gateway.domainCertificates[0].key: cannot read ${at('nope.key')}: no such file`,
      `config: gateway.auth.decoySecretFile: ${at('secret')} holds fewer than 16 bytes`,
      `config: imService.tls.key: ${at('gw.crt')} holds no PEM private key`,
    ]);
    await file('files/gw.key', PEM_KEY);
    await expect(checkConfigFiles({ ...config, imService: undefined }, ['im-service'])).rejects.toThrow('imService: is missing');
  });
});

describe('environment names and the JSON Schema', () => {
  it('gives every key exactly one variable by the documented rule', () => {
    expect(envName(['registry', 'url'])).toBe('AMBROSIA_REGISTRY_URL');
    expect(envName(['gateway', 'ports', 'c2sTls'])).toBe('AMBROSIA_GATEWAY_PORTS_C2S_TLS');
    expect(envName(['imService', 'store', 'url'])).toBe('AMBROSIA_IM_SERVICE_STORE_URL');
    const leaves = configLeaves();
    expect(envTable().size).toBe(leaves.length); // no two keys share a name
  });

  it('marks every path key, so relative paths are resolved', () => {
    expect([...pathKeyNames()].sort()).toEqual(['caCert', 'caDir', 'cert', 'channelCert', 'channelKey', 'decoySecretFile', 'key']);
  });

  it('is committed in docs/config.schema.json exactly as generated (node packages/config/scripts/write-schema.mjs)', async () => {
    const committed = JSON.parse(await readFile(new URL('../../../docs/config.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(committed).toEqual(configJsonSchema());
  });

  it('is documented: docs/configuration.md names every key and its variable', async () => {
    const doc = await readFile(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const missing = configLeaves()
      .map((leaf) => ({ key: leaf.path.join('.'), env: envName(leaf.path) }))
      .filter(({ key, env }) => !doc.includes(`\`${key}\``) || !doc.includes(`\`${env}\``));
    expect(missing).toEqual([]);
  });
});

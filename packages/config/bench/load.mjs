// How long a start spends on its configuration: loading a full ambrosia.yaml with environment
// overrides, and refusing a bad one. Runs against the BUILT package:
//   npx tsc -p packages/config/tsconfig.build.json && npm run bench -- config/bench
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../dist/index.js';

const ROUNDS = 300;

const FULL = `
registry: { url: 'redis-sentinel://10.0.0.1:26379,10.0.0.2:26379/ambrosia', commandTimeoutMs: 2000 }
gateway:
  id: gw-bench
  host: 0.0.0.0
  addresses: [gw1.example.net, 10.0.0.5]
  ports: { c2s: 5222, c2sTls: 5223, service: 5347 }
  processes: auto
  tls: { caDir: ./ca }
  domainCertificates:
    - { domain: example.net, cert: certs/example.net.crt, key: certs/example.net.key }
  stream: { requireTls: true, idleTimeoutMs: 300000, sm: { resumeTimeoutMs: 300000 } }
  hub: { stanzaTimeoutMs: 30000 }
  stopTimeoutMs: 10000
imService: { domains: [example.net, example.org], store: { url: 'redis://10.0.0.9:6379' }, registration: true }
log: { level: info }
`;

async function time(label, body) {
  for (let i = 0; i < 20; i++) await body(); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) await body();
  return Number(process.hrtime.bigint() - start) / 1e6 / ROUNDS;
}

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'ambrosia-config-bench-'));
  try {
    const good = join(dir, 'good.yaml');
    const bad = join(dir, 'bad.yaml');
    await writeFile(good, FULL);
    await writeFile(bad, FULL.replace('c2s: 5222', 'c2s: abc').replace('processes: auto', 'procesess: 2'));
    const env = { AMBROSIA_GATEWAY_PORTS_C2S: '6222', AMBROSIA_LOG_LEVEL: 'debug' };
    const load = await time('load', () => loadConfig({ file: good, env }));
    const refuse = await time('refuse', () => loadConfig({ file: bad, env: {} }).catch(() => undefined));
    const figures = { 'load full file + 2 env overrides (ms)': Number(load.toFixed(3)), 'refuse file with 2 problems (ms)': Number(refuse.toFixed(3)) };
    console.log(figures);
    return { name: 'config load', figures };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();

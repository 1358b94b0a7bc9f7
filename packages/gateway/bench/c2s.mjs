// Bench of the client edge: N authenticated, bound, idle sessions (direct TLS on 5223 and plain
// TCP with requireTls off), the clients in a child process spread over several 127.x source
// addresses. Figures: logins per second and the gateway's CPU per login (SCRAM-SHA-256, at a fixed concurrency, the auth
// package's default 50 ms answer floor included) and the gateway's RSS and heap per session.
//   npm run build && node packages/gateway/bench/c2s.mjs [N]
// Imports the built packages (dist). The router is a stub that takes every stanza: this measures
// the edge, not the service channel (bench/services.mjs does that).

import { fork } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, createSecureContext } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { ask, settle } from './support/parent.mjs';

const SELF = fileURLToPath(import.meta.url);
const DOMAIN = 'bench.example';
const PASSWORD = 'bench password';
const ADDRESSES = 8; // 127.0.0.1 … 127.0.0.8
const CONCURRENCY = 200;

// ---------------------------------------------------------------------------------------------
// Child: the clients.

function scramClient(socket, user, salted) {
  // Returns the SCRAM-SHA-256 messages as functions of what the server says.
  const nonce = randomBytes(12).toString('base64');
  const first = `n=${user},r=${nonce}`;
  return {
    auth: `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>${Buffer.from(`n,,${first}`).toString('base64')}</auth>`,
    response(challengeB64) {
      const challenge = Buffer.from(challengeB64, 'base64').toString();
      const fields = Object.fromEntries(challenge.split(',').map((kv) => [kv[0], kv.slice(2)]));
      const key = `${fields.s}:${fields.i}`;
      let sp = salted.get(key);
      if (sp === undefined) salted.set(key, (sp = pbkdf2Sync(PASSWORD, Buffer.from(fields.s, 'base64'), Number(fields.i), 32, 'sha256')));
      const clientKey = createHmac('sha256', sp).update('Client Key').digest();
      const storedKey = createHash('sha256').update(clientKey).digest();
      const finalBare = `c=biws,r=${fields.r}`;
      const signature = createHmac('sha256', storedKey).update(`${first},${challenge},${finalBare}`).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i])).toString('base64');
      return `<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(`${finalBare},p=${proof}`).toString('base64')}</response>`;
    },
  };
}

function login({ port, tls, secureContext, index, salted }) {
  return new Promise((resolve, reject) => {
    const localAddress = `127.0.0.${(index % ADDRESSES) + 1}`;
    const socket = tls
      ? tlsConnect({ host: '127.0.0.1', port, localAddress, servername: DOMAIN, secureContext, ALPNProtocols: ['xmpp-client'] })
      : netConnect({ host: '127.0.0.1', port, localAddress });
    const user = `user${index}`;
    const scram = scramClient(socket, user, salted);
    const header = `<?xml version='1.0'?><stream:stream to='${DOMAIN}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;
    let text = '';
    let step = 0;
    const timer = setTimeout(() => reject(new Error(`login ${index} timed out at step ${step}`)), 60_000);
    socket.setEncoding('utf8');
    socket.on('error', (e) => reject(e));
    socket.once(tls ? 'secureConnect' : 'connect', () => socket.write(header));
    socket.on('data', (chunk) => {
      text += chunk;
      if (step === 0 && text.includes('</stream:features>')) {
        step = 1;
        text = '';
        socket.write(scram.auth);
      } else if (step === 1 && text.includes('</challenge>')) {
        step = 2;
        const b64 = /<challenge[^>]*>([^<]+)<\/challenge>/.exec(text)[1];
        text = '';
        socket.write(scram.response(b64));
      } else if (step === 2 && (text.includes('<success') || text.includes('<failure'))) {
        if (text.includes('<failure')) return reject(new Error(`auth failed for ${user}`));
        step = 3;
        text = '';
        socket.write(header);
      } else if (step === 3 && text.includes('</stream:features>')) {
        step = 4;
        text = '';
        socket.write("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bench</resource></bind></iq>");
      } else if (step === 4 && text.includes('</iq>')) {
        step = 5;
        text = '';
        socket.write('<presence/>');
        clearTimeout(timer);
        resolve(socket);
      }
    });
  });
}

async function childMain() {
  const sockets = [];
  const salted = new Map();
  process.on('message', async (message) => {
    if (message.cmd === 'login') {
      // One context for every connection: node would otherwise rebuild the CA store each time.
      const secureContext = message.tls ? createSecureContext({ ca: [message.ca] }) : undefined;
      const started = performance.now();
      let next = 0;
      let failures = 0;
      const worker = async () => {
        while (next < message.n) {
          const index = next++;
          try {
            sockets.push(await login({ ...message, secureContext, index, salted }));
          } catch {
            failures++;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, message.n) }, worker));
      process.send({ done: true, ms: performance.now() - started, failures });
    } else if (message.cmd === 'close') {
      for (const socket of sockets.splice(0)) socket.destroy();
      process.send({ closed: true });
    } else if (message.cmd === 'exit') {
      process.exit(0);
    }
  });
  process.send({ ready: true });
}

// ---------------------------------------------------------------------------------------------
// Parent: the gateway's client edge.

async function measure(mode, n, deps, child, ca) {
  const { ClientEdge, DomainCertificates, createMemoryRegistry } = deps;
  const registry = createMemoryRegistry({ heartbeatIntervalMs: 0, sessionLeaseMs: 3_600_000 });
  const gatewayId = `gw-bench-${mode}`;
  await registry.gateways.announce({ id: gatewayId, addresses: ['127.0.0.1'], ports: {}, load: 0, state: 'active' });
  const record = await deps.credentialsRecord;
  for (let i = 0; i < n; i++) await registry.credentials.put(DOMAIN, `user${i}`, record);
  const router = {
    serves: (domain) => domain === DOMAIN,
    route: async () => {},
    sessionEvent: async () => {},
    seeOtherHost: async () => undefined,
  };
  const certificates = new DomainCertificates({ ca, mayIssue: (d) => d === DOMAIN, fallbackDomain: 'localhost' });
  await certificates.init();
  await certificates.contextFor(DOMAIN);
  const edge = new ClientEdge({
    gatewayId,
    registry,
    router,
    certificates,
    host: '127.0.0.1',
    ports: { c2s: 0, c2sTls: 0 },
    auth: { decoySecret: Buffer.alloc(32, 1) },
    stream: { requireTls: mode === 'tls' },
    maxSessions: n + 100,
  });
  const ports = await edge.start();
  const before = await settle(300);
  const cpuBefore = process.cpuUsage();
  const result = await ask(child, { cmd: 'login', n, tls: mode === 'tls', port: mode === 'tls' ? ports.c2sTls : ports.c2s, ca: ca.certPem }, 'done');
  const cpu = process.cpuUsage(cpuBefore);
  const after = await settle(300);
  const established = edge.stats().sessions.established;
  const figures = {
    [`${mode}_sessions`]: established,
    [`${mode}_login_failures`]: result.failures,
    [`${mode}_logins_per_s`]: Math.round((n - result.failures) / (result.ms / 1000)),
    // The gateway's own CPU per login (user + system), steadier than logins/s on a shared machine.
    [`${mode}_gateway_cpu_per_login_ms`]: Math.round(((cpu.user + cpu.system) / 1000 / Math.max(1, n - result.failures)) * 100) / 100,
    [`${mode}_rss_per_session_KiB`]: Math.round(((after.rss - before.rss) / Math.max(1, established) / 1024) * 10) / 10,
    [`${mode}_heap_per_session_KiB`]: Math.round(((after.heapUsed - before.heapUsed) / Math.max(1, established) / 1024) * 10) / 10,
  };
  await ask(child, { cmd: 'close' }, 'closed');
  await edge.stopAccepting();
  edge.shutdownAll(() => undefined);
  await edge.waitForEmpty(10_000);
  await registry.close();
  return figures;
}

export async function run(n = Number(process.env.C2S_BENCH_SESSIONS ?? 2000)) {
  const gateway = await import(new URL('../dist/index.js', import.meta.url).href);
  const { createMemoryRegistry } = await import('@ambrosia/registry');
  const { createCA } = await import('@ambrosia/pki');
  const { makeScramCredentials } = await import('@ambrosia/sasl');
  const ca = await createCA({ commonName: 'bench CA' });
  const scram = await makeScramCredentials(PASSWORD, { iterations: 4096, hashes: ['SHA-256'] });
  const now = Date.now();
  const deps = {
    ClientEdge: gateway.ClientEdge,
    DomainCertificates: gateway.DomainCertificates,
    createMemoryRegistry,
    credentialsRecord: Promise.resolve({ ...scram, createdAt: now, updatedAt: now }),
  };
  const child = fork(SELF, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((resolve) => child.once('message', resolve));
  const figures = { sessions: n };
  try {
    Object.assign(figures, await measure('plain', n, deps, child, ca));
    Object.assign(figures, await measure('tls', n, deps, child, ca));
  } finally {
    child.send({ cmd: 'exit' });
  }
  const result = { name: 'gateway c2s', figures };
  console.log(JSON.stringify(result, null, 2));
  return result;
}

if (process.argv.includes('--child')) {
  await childMain();
} else if (process.argv[1] === SELF) {
  await run(process.argv[2] === undefined ? undefined : Number(process.argv[2]));
}

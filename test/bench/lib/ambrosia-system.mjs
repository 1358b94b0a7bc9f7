// Ambrosia composed for a benchmark or test: one Gateway and one IM service (ImService on the
// service SDK's DomainService, over the real mutually authenticated service channel), an
// in-memory registry and IM store, as `ambrosia dev` composes them.
//
// startAmbrosiaSystem({ users, domain, iterations }) →
//   { host, port, caPem, scramSeeds, stop() }   or   { pending: reason } when a package is missing.
import { pbkdf2 } from 'node:crypto';

async function load(name) {
  try {
      return await import(name);
  } catch (error) {
    return { loadError: `${name}: ${error.message}` };
  }
}

function pbkdf2Sha1(password, saltBase64, iterations) {
  return new Promise((resolve, reject) =>
    pbkdf2(password, Buffer.from(saltBase64, 'base64'), iterations, 20, 'sha1', (err, key) => (err ? reject(err) : resolve(key))),
  );
}

async function inParallel(items, parallel, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

/** Warnings and errors as JSON lines on stderr (the benchmark keeps the last ones). */
function stderrLogger(level, event, fields) {
  if (level === 'warn' || level === 'error') process.stderr.write(JSON.stringify({ level, event, ...fields }) + '\n');
}

function reportError(source) {
  return (error) => process.stderr.write(JSON.stringify({ level: 'error', event: `${source}-error`, error: error?.message ?? String(error) }) + '\n');
}

export async function startAmbrosiaSystem({ users, domain = 'localhost', iterations = 4096, log = false }) {
  const [gatewayPkg, imPkg, sdkPkg, registryPkg, imStorePkg, authPkg, pkiPkg] = await Promise.all(
    ['@ambrosia/gateway', '@ambrosia/im-service', '@ambrosia/service-sdk', '@ambrosia/registry', '@ambrosia/im-store', '@ambrosia/auth', '@ambrosia/pki'].map(load),
  );
  const missing = [
    typeof gatewayPkg.Gateway !== 'function' && '@ambrosia/gateway Gateway',
    typeof imPkg.ImService !== 'function' && '@ambrosia/im-service ImService',
    typeof sdkPkg.DomainService !== 'function' && '@ambrosia/service-sdk DomainService',
  ].filter(Boolean);
  if (missing.length > 0) {
    const details = [gatewayPkg, imPkg, sdkPkg].map((p) => p.loadError).filter(Boolean);
    return { pending: `not available yet: ${missing.join(', ')}${details.length ? ` (${details.join('; ')})` : ''}` };
  }
  const { Gateway } = gatewayPkg;
  const { ImService } = imPkg;
  const { DomainService } = sdkPkg;
  const { createMemoryRegistry } = registryPkg;
  const { createMemoryImStore } = imStorePkg;
  const { addUser } = authPkg;
  const { createCA, issueCertificate } = pkiPkg;

  // Default heartbeats: the registry's leases (gateways, service instances) must stay renewed
  // for the whole run (without them they lapse after 15 s and the domain becomes unknown).
  const registry = createMemoryRegistry();
  const ca = await createCA({ commonName: 'Ambrosia benchmark CA' });
  // SCRAM-SHA-1 only: the clients use it (as against Prosody), and -256/-512 records would triple
  // the PBKDF2 work of preparing thousands of accounts without changing what a login costs.
  await inParallel(users, 8, (u) => addUser(registry.credentials, domain, u.username, u.password, { iterations, hashes: ['SHA-1'] }));

  let gateway;
  let service;
  let stopped;
  const stop = () =>
    (stopped ??= (async () => {
      await gateway?.stop({ timeoutMs: 5000 }).catch(() => {});
      await service?.stop({ timeoutMs: 5000 }).catch(() => {});
      await registry.close?.().catch(() => {});
    })());
  try {
    gateway = new Gateway({
      id: 'gw-bench',
      registry,
      host: '127.0.0.1',
      ports: { c2s: 0, c2sTls: null, service: 0 },
      ca: { cert: ca.certPem, key: ca.keyPem },
      // Plain c2s is allowed so the "without TLS" scenario can run; the default requires TLS.
      stream: { requireTls: false },
      ...(log ? { logger: stderrLogger } : {}),
    });
    const { ports } = await gateway.start();
    const serviceCert = await issueCertificate(ca, { role: 'service', commonName: 'im-bench', permissions: [{ domain, type: 'client' }] });
    service = new DomainService({
      instance: 'im-bench-1',
      registrations: [{ domain, type: 'client' }],
      tls: { cert: serviceCert.certPem, key: serviceCert.keyPem, ca: ca.certPem },
      registry,
      verifyHostname: false,
      ...(log ? { onError: reportError('service') } : {}),
    });
    const im = new ImService({ service, store: createMemoryImStore(), domains: [domain], ...(log ? { onError: reportError('im') } : {}) });
    im.start();
    await service.start();
    const deadline = Date.now() + 30_000;
    while (!(gateway.stats().hub?.services > 0)) {
      if (Date.now() > deadline) throw new Error('the IM service did not register with the gateway in 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }

    // The client's SaltedPassword for each account, so the load client's PBKDF2 is not measured.
    const scramSeeds = new Array(users.length);
    await inParallel(users, 8, async (u, i) => {
      const record = await registry.credentials.get(domain, u.username);
      const sha1 = record?.scram?.['SHA-1'];
      if (!sha1) return;
      const salted = await pbkdf2Sha1(u.password, sha1.salt, sha1.iterations);
      scramSeeds[i] = { hash: 'sha1', username: u.username, password: u.password, saltBase64: sha1.salt, iterations: sha1.iterations, saltedPassword: salted };
    });

    return { host: '127.0.0.1', port: ports.c2s, caPem: ca.certPem, scramSeeds: scramSeeds.filter(Boolean), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

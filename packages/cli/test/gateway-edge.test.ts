// TLS material from files (no CA key on the gateway host) and the gateway's edge settings from
// the configuration reach the running gateway. With
// `proxyProtocol` trusting 127.0.0.1, a client through the "load balancer" (a PROXY v1 header)
// signs in, and one that connects without the header is refused.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { issueCertificate, issueDomainCertificate, writeCertificateFiles } from '@ambrosia/pki';
import { startAmbrosia } from './support/ambrosia-process.js';
import { DOMAIN, PASSWORD, startRecordingService, type Fixture, type RecordingService } from './support/fixture.js';
import { RawClient } from './support/raw-client.js';
import { useProcessTest } from './support/process-test.js';

let fixture: Fixture;
let service: RecordingService | undefined;
const clients: RawClient[] = [];

useProcessTest({ started: (started) => (fixture = started), clients, service: () => service });

describe('TLS from files, without the CA key on the gateway host', () => {
  it('runs on a channel certificate, a domain certificate and a decoy secret from files', async () => {
    const dir = join(fixture.dir, 'files');
    const channel = await issueCertificate(fixture.ca, { role: 'gateway', commonName: 'gwf', ipAddresses: ['127.0.0.1'] });
    const domain = await issueDomainCertificate(fixture.ca, { domains: [DOMAIN] });
    await writeCertificateFiles(dir, 'gwf', channel);
    await writeCertificateFiles(dir, DOMAIN, domain);
    await writeFile(join(dir, 'ca.crt'), fixture.ca.certPem);
    await writeFile(join(dir, 'decoy'), randomBytes(32));
    const config = await fixture.config(
      'files.yaml',
      [
        ...fixture.gatewayHead('gwf', 1),
        '  tls: { channelCert: files/gwf.crt, channelKey: files/gwf.key, caCert: files/ca.crt }',
        `  domainCertificates: [{ domain: ${DOMAIN}, cert: files/${DOMAIN}.crt, key: files/${DOMAIN}.key }]`,
        '  auth: { decoySecretFile: files/decoy }',
        '  stopTimeoutMs: 2000',
      ].join('\n'),
    );
    const gateway = startAmbrosia(['gateway', '-c', config]);
    const started = await gateway.waitFor((e) => e.event === 'gateway-started', 30_000, 'gateway started');
    const files = await startRecordingService(fixture, 'recorder-files');
    try {
      await files.registeredOn(['gwf']);
      const [user] = await fixture.addUsers(1, 'f');
      const client = await RawClient.connect({ port: started.c2sTls as number, domain: DOMAIN, ca: fixture.ca.certPem });
      clients.push(client);
      await client.login(user!, PASSWORD);
      client.sendStanza(`<message to='x@${DOMAIN}' id='f-1'><body>hi</body></message>`);
      expect(await client.requestAck()).toBe(1);
      expect(files.received.has(`${user}@${DOMAIN}|f-1`)).toBe(true);
      expect(gateway.events.some((e) => e.event === 'auth-decoy-secret-random')).toBe(false);
    } finally {
      await files.stop();
    }
    gateway.child.kill('SIGTERM');
    expect(await gateway.exit(15_000)).toEqual({ code: 0, signal: null });
  }, 120_000);
});

describe('gateway.proxyProtocol and gateway.limits from ambrosia.yaml', () => {
  it('reads the PROXY header from a trusted balancer and refuses a connection without one', async () => {
    const config = await fixture.config(
      'edge.yaml',
      [
        ...fixture.gatewayHead('gwe', 1),
        `  tls: { caDir: ${fixture.caDir} }`,
        '  proxyProtocol:',
        '    trusted: [127.0.0.1/32]',
        '    headerTimeoutMs: 2000',
        '  limits:',
        '    maxUnauthenticatedPerIp: 4',
        '    connectionRatePerIp: { limit: 100 }',
        '  stopTimeoutMs: 2000',
      ].join('\n'),
    );
    const gateway = startAmbrosia(['gateway', '-c', config]);
    const started = await gateway.waitFor((e) => e.event === 'gateway-started', 30_000, 'gateway started');
    service = await startRecordingService(fixture, 'recorder-edge');
    await service.registeredOn(['gwe']);
    const port = started.c2sTls as number;
    const [user] = await fixture.addUsers(1, 'p');

    const proxied = await RawClient.connect({ port, domain: DOMAIN, ca: fixture.ca.certPem, proxyHeader: `PROXY TCP4 203.0.113.7 127.0.0.1 40000 ${port}\r\n` });
    clients.push(proxied);
    await proxied.login(user!, PASSWORD);
    expect(await proxied.requestAck()).toBe(0);

    // 127.0.0.1 is a trusted balancer and `required` is the default: no header, no connection.
    const direct = RawClient.connect({ port, domain: DOMAIN, ca: fixture.ca.certPem });
    const outcome = await direct.then(
      async (client) => {
        clients.push(client);
        await Promise.race([client.closed, new Promise((resolve) => setTimeout(resolve, 5_000))]);
        return client.isOpen ? 'open' : 'closed';
      },
      () => 'refused',
    );
    expect(outcome).not.toBe('open');

    gateway.child.kill('SIGTERM');
    expect(await gateway.exit(15_000)).toEqual({ code: 0, signal: null });
  }, 120_000);
});

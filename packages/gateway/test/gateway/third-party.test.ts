// Third-party clients against a real Gateway (service hub + echo service over the service
// channel): xmpp.js (@xmpp/client, in its own process) over STARTTLS and over direct TLS with
// SCRAM-SHA-1 and SCRAM-SHA-256, and Debian's slixmpp over STARTTLS. Each logs in, binds, sends a
// message to the domain and gets the echo. Trust: the cluster CA PEM written to a temp file.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMemoryRegistry, type Registry } from '@ambrosia/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gateway } from '../../src/index.js';
import { DOMAIN, PASSWORD, addTestUser, eventually, testCA } from '../c2s/helpers.js';
import { startEchoService, type EchoService } from './echo-service.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
/** Direct TLS clients dial the domain name itself, so it must resolve here: localhost. */
const TLS_DOMAIN = 'localhost';
/** A client process (start-up, imports, TLS, login) on a busy shared machine; the child's own bound is 15 s. */
const CLIENT_TIMEOUT_MS = 40_000;

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  return new Promise((resolve) => {
    execFile(command, args, { env, timeout: 35_000 }, (error, stdout, stderr) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(line) as Record<string, string>);
      } catch {
        resolve({ error: `no result (${error?.message ?? ''}) ${stderr.slice(-500)}` });
      }
    });
  });
}

describe('third-party clients', () => {
  let registry: Registry;
  let gateway: Gateway;
  let ports: { c2s: number; c2sTls: number; service: number };
  let echo: EchoService;
  let dir: string;
  let caFile: string;

  beforeAll(async () => {
    const ca = await testCA();
    dir = mkdtempSync(join(tmpdir(), 'ambrosia-gw-clients-'));
    caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, ca.certPem);
    registry = createMemoryRegistry({ heartbeatIntervalMs: 0 });
    gateway = new Gateway({ id: 'gw-3p', registry, ports: { c2s: 0, c2sTls: 0, service: 0 }, ca: { cert: ca.certPem, key: ca.keyPem } });
    ({ ports } = await gateway.start());
    echo = await startEchoService({ ca, registry, gateways: [{ id: 'gw-3p', port: ports.service }], domains: [DOMAIN, TLS_DOMAIN] });
    await eventually(() => gateway.stats().hub!.services >= 2, 3000, 'registrations');
    await Promise.all([addTestUser(registry, 'juliet'), addTestUser(registry, 'romeo', TLS_DOMAIN), addTestUser(registry, 'benvolio')]);
  });

  afterAll(async () => {
    await echo.close();
    await gateway.stop({ timeoutMs: 2000 });
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = () => ({ ...process.env, NODE_EXTRA_CA_CERTS: caFile });
  const xmppJs = (service: string, domain: string, user: string, mechanism: string) =>
    run(process.execPath, [join(FIXTURES, 'xmpp-js-client.mjs'), service, domain, user, PASSWORD, mechanism], env());

  for (const mechanism of ['SCRAM-SHA-1', 'SCRAM-SHA-256']) {
    it(`xmpp.js over STARTTLS with ${mechanism}`, async () => {
      const result = await xmppJs(`xmpp://127.0.0.1:${ports.c2s}`, DOMAIN, 'juliet', mechanism);
      expect(result).toEqual({ jid: `juliet@${DOMAIN}/xmppjs`, mechanism, reply: `echo: hello from juliet@${DOMAIN}/xmppjs` });
    }, CLIENT_TIMEOUT_MS);

    it(`xmpp.js over direct TLS (XEP-0368) with ${mechanism}`, async () => {
      const result = await xmppJs(`xmpps://${TLS_DOMAIN}:${ports.c2sTls}`, TLS_DOMAIN, 'romeo', mechanism);
      expect(result).toEqual({ jid: `romeo@${TLS_DOMAIN}/xmppjs`, mechanism, reply: `echo: hello from romeo@${TLS_DOMAIN}/xmppjs` });
    }, CLIENT_TIMEOUT_MS);
  }

  it('slixmpp (Debian python3) over STARTTLS with SCRAM-SHA-256', async () => {
    const result = await run('/usr/bin/python3', [join(FIXTURES, 'slixmpp_client.py'), '127.0.0.1', String(ports.c2s), `benvolio@${DOMAIN}`, PASSWORD, caFile], { ...process.env, PYTHONWARNINGS: 'ignore' });
    expect(result).toEqual({ jid: `benvolio@${DOMAIN}/slixmpp`, reply: 'echo: hello from slixmpp' });
  }, CLIENT_TIMEOUT_MS);
});

// The Gateway behind a real HAProxy (Debian's haproxy): send-proxy-v2 in front of 5222
// (STARTTLS) and send-proxy (v1) in front of 5223 (TLS passed through, the header before the
// ClientHello). Clients dial HAProxy from 127.0.0.2/127.0.0.3, so the address the gateway
// reports can only have come through the header. The limits are the Gateway's options.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeV1 } from '@ambrosia/proxy-protocol';
import { createMemoryRegistry, type Registry } from '@ambrosia/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gateway, type GatewayLogger, type LogFields } from '../../src/index.js';
import { testCA } from '../c2s/helpers.js';
import { startEchoService, type EchoService } from '../gateway/echo-service.js';
import { STREAM_ERROR, WireClient, addTestUser, eventually, header, login, type ProtectedEdge } from './helpers.js';

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

async function waitForListener(port: number, proxy: ChildProcess, log: () => string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.on('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (proxy.exitCode !== null) throw new Error(`haproxy exited: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`haproxy did not listen on ${port}: ${log()}`);
}

describe('Gateway behind HAProxy (PROXY v1 and v2)', () => {
  let registry: Registry;
  let gateway: Gateway;
  let echo: EchoService;
  let haproxy: ChildProcess;
  let haproxyLog = '';
  let dir = '';
  const logs: Array<{ event: string; fields: LogFields | undefined }> = [];
  // What login() needs: HAProxy's ports in place of the gateway's.
  let front: Pick<ProtectedEdge, 'port' | 'tlsPort' | 'caPem'>;
  let gatewayPorts: { c2s: number; c2sTls: number };

  beforeAll(async () => {
    const ca = await testCA();
    registry = createMemoryRegistry({ heartbeatIntervalMs: 0 });
    const logger: GatewayLogger = (_level, event, fields) => {
      if (logs.length < 20_000) logs.push({ event, fields });
    };
    gateway = new Gateway({
      id: 'gw-haproxy',
      registry,
      ports: { c2s: 0, c2sTls: 0, service: 0 },
      ca: { cert: ca.certPem, key: ca.keyPem },
      auth: { minResponseMs: 1 },
      proxyProtocol: { trusted: ['127.0.0.1'] },
      limits: { maxUnauthenticatedPerIp: 2, preAuthTimeoutMs: 2000, exemptAddresses: [] },
      logger,
    });
    const { ports } = await gateway.start();
    gatewayPorts = ports;
    echo = await startEchoService({ ca, registry, gateways: [{ id: 'gw-haproxy', port: ports.service }], domains: ['example.org'] });
    await Promise.all(['juliet', 'romeo'].map((u) => addTestUser(registry, u)));
    await eventually(() => (gateway.stats().hub?.services ?? 0) > 0, 5000, 'echo service registered');

    const c2s = await freePort();
    const c2sTls = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'ambrosia-gw-haproxy-'));
    const config = `
global
  maxconn 256
defaults
  mode tcp
  timeout connect 2s
  timeout client 20s
  timeout server 20s
frontend fe_c2s
  bind 127.0.0.1:${c2s}
  default_backend be_c2s
frontend fe_c2s_tls
  bind 127.0.0.1:${c2sTls}
  default_backend be_c2s_tls
backend be_c2s
  server gw 127.0.0.1:${ports.c2s} send-proxy-v2
backend be_c2s_tls
  server gw 127.0.0.1:${ports.c2sTls} send-proxy
`;
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, config);
    execFileSync('haproxy', ['-c', '-f', file], { stdio: 'ignore' });
    haproxy = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout!.on('data', (d) => (haproxyLog += d));
    haproxy.stderr!.on('data', (d) => (haproxyLog += d));
    await waitForListener(c2s, haproxy, () => haproxyLog);
    await waitForListener(c2sTls, haproxy, () => haproxyLog);
    front = { port: c2s, tlsPort: c2sTls, caPem: ca.certPem };
  });

  afterAll(async () => {
    if (haproxy !== undefined && haproxy.exitCode === null) {
      const exited = once(haproxy, 'exit');
      haproxy.kill('SIGTERM');
      const timer = setTimeout(() => haproxy.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    await echo?.close();
    await gateway?.stop({ timeoutMs: 2000 });
    await registry?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('STARTTLS through send-proxy-v2 and direct TLS through send-proxy: the client address is 127.0.0.2', async () => {
    const starttls = await login(front as ProtectedEdge, 'juliet', { from: '127.0.0.2' });
    const direct = await login(front as ProtectedEdge, 'romeo', { from: '127.0.0.2', direct: true });
    for (const { client } of [starttls, direct]) {
      client.send(`<message to='example.org' type='chat' id='h1'><body>through haproxy</body></message>`);
      await client.until(/<body>echo: through haproxy<\/body>/);
    }
    const proxied = logs.filter((l) => l.event === 'c2s-proxied').map((l) => [l.fields?.kind, l.fields?.address]);
    expect(proxied).toEqual(expect.arrayContaining([['starttls', '127.0.0.2'], ['direct-tls', '127.0.0.2']]));
    expect(gateway.stats().limits.proxy.accepted).toBeGreaterThanOrEqual(2);
    starttls.client.destroy();
    direct.client.destroy();
  });

  it('the per-IP limit and the pre-auth deadline see the address HAProxy reported', async () => {
    const healthy = await login(front as ProtectedEdge, 'juliet', { from: '127.0.0.2' });
    const idle = await Promise.all([1, 2].map(() => WireClient.dial(front.port, { from: '127.0.0.3' })));
    for (const c of idle) c.send(header());
    for (const c of idle) await c.until(/<\/stream:features>/);
    const third = await WireClient.dial(front.port, { from: '127.0.0.3' });
    third.send(header());
    expect(await third.untilClosed()).toMatch(STREAM_ERROR('policy-violation'));
    const trip = logs.find((l) => l.event === 'limit-tripped' && l.fields?.limit === 'unauthenticated-per-ip');
    expect(trip?.fields).toMatchObject({ address: '127.0.0.3' });
    // The two idle ones reach the 2 s pre-authentication deadline.
    for (const c of idle) expect(await c.untilClosed(6000)).toMatch(STREAM_ERROR('connection-timeout'));
    expect(gateway.stats().limits.tripped['pre-auth-timeout']).toBe(2);
    expect(logs.filter((l) => l.event === 'limit-tripped' && l.fields?.limit === 'pre-auth-timeout').map((l) => l.fields?.address)).toEqual(['127.0.0.3', '127.0.0.3']);
    // The healthy session was authenticated in time and is still served.
    healthy.client.send(`<message to='example.org' type='chat'><body>still here</body></message>`);
    await healthy.client.until(/<body>echo: still here<\/body>/);
    healthy.client.destroy();
  });

  it('a header sent straight to the gateway from an untrusted address is refused', async () => {
    const client = await WireClient.dialRaw(gatewayPorts.c2s, { from: '127.0.0.2', prefix: encodeV1({ source: { address: '203.0.113.1', port: 1 }, destination: { address: '127.0.0.1', port: 5222 } }) });
    expect(await client.untilClosed()).toBe('');
    expect(gateway.stats().limits.proxy.refused.PROXY_UNTRUSTED).toBe(1);
  });
});

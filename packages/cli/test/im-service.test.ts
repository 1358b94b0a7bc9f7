// `ambrosia im-service` against `ambrosia gateway`, both real processes on one real Redis: the
// IM service issues its certificate from the CA directory, registers on the gateway, answers a
// client's roster request and keeps its message; SIGTERM stops both with exit code 0.
import { describe, expect, it } from 'vitest';
import { startAmbrosia } from './support/ambrosia-process.js';
import { DOMAIN, PASSWORD, type Fixture } from './support/fixture.js';
import { RawClient } from './support/raw-client.js';
import { useProcessTest } from './support/process-test.js';

let fixture: Fixture;
const clients: RawClient[] = [];

useProcessTest({ started: (started) => (fixture = started), clients });

describe('ambrosia im-service', () => {
  it('serves its domains through the gateway and stops gracefully', async () => {
    const config = await fixture.config(
      'ambrosia.yaml',
      [
        ...fixture.gatewayHead('gwi', 1),
        '  stopTimeoutMs: 3000',
        'imService:',
        `  domains: [${DOMAIN}]`,
        '  instance: im-test',
        '  stopTimeoutMs: 3000',
      ].join('\n'),
    );
    // The CA directory comes from the variable `ambrosia ca` uses; the store is the registry's Redis.
    const env = { AMBROSIA_CA_DIR: fixture.caDir };
    const gateway = startAmbrosia(['gateway', '-c', config], { env });
    const started = await gateway.waitFor((e) => e.event === 'gateway-started', 30_000, 'gateway started');
    const im = startAmbrosia(['im-service', '-c', config], { env });
    const imStarted = await im.waitFor((e) => e.event === 'im-service-started', 30_000, 'IM service started');
    expect(imStarted).toMatchObject({ instance: 'im-test', domains: 1, gateways: 1, role: 'im-service' });

    const [user] = await fixture.addUsers(1, 'r');
    const client = await RawClient.connect({ port: started.c2sTls as number, domain: DOMAIN, ca: fixture.ca.certPem });
    clients.push(client);
    await client.login(user!, PASSWORD);
    const roster = client.next((el) => el.getName() === 'iq' && el.attrs.id === 'roster1', 10_000, 'roster result');
    client.sendStanza(`<iq type='get' id='roster1'><query xmlns='jabber:iq:roster'/></iq>`);
    const result = await roster;
    expect(result.attrs.type).toBe('result');
    expect(result.getChild('query', 'jabber:iq:roster')).toBeDefined();

    im.child.kill('SIGTERM');
    expect(await im.exit(15_000)).toEqual({ code: 0, signal: null });
    expect(im.events.some((e) => e.event === 'im-service-exit')).toBe(true);
    gateway.child.kill('SIGTERM');
    expect(await gateway.exit(15_000)).toEqual({ code: 0, signal: null });
    expect(client.streamErrorCondition()?.condition).toBe('system-shutdown');
  }, 120_000);

  it('refuses to start without imService.domains, with exit code 2', async () => {
    const config = await fixture.config('no-im.yaml', `registry:\n  url: ${fixture.redis.url}\n`);
    const im = startAmbrosia(['im-service', '-c', config], { env: { AMBROSIA_CA_DIR: fixture.caDir } });
    expect(await im.exit(15_000)).toEqual({ code: 2, signal: null });
    expect(im.stderr).toBe('ambrosia: config: imService: is missing: the IM service needs at least imService.domains\n');
  }, 30_000);
});

// Issue #5: the service SDK's guarantees end to end, through real gateways, real service
// processes and a real Redis registry.
// - A service instance SIGKILLed mid-stream while another is started: no stanza lost; each one
//   handed to the application once, except in the at-least-once window (a stanza the dead
//   instance ran but had not acknowledged runs again elsewhere), whose duplicates are counted
//   by key and printed.
// - A gateway restarted under load (stopped, and a new one started on the same ports with the
//   same id): the SDK reconnects and resends what was not acknowledged; nothing lost.
// - Several instances of one domain: each user's stanzas stay in order on one instance, the
//   users are spread over the instances, and an instance leaving moves only its own users.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashString, pickByRendezvous } from '@ambrosia/gateway';
import { message } from '@ambrosia/im-service/testing';
import type { CertificateAuthority } from '@ambrosia/pki';
import { DomainService } from '@ambrosia/service-sdk';
import { startRedis, stopAll, type RedisServer } from '@ambrosia/testing-redis';
import { xml } from '@ambrosia/xml';
import {
  DOMAIN, PASSWORD, TEST_RESUME_TIMEOUT_MS, addUsers, clusterCA, eventually, instancesRegistered, redisRegistry, serviceCertificate, startGateway,
  startServiceProcess, writeServiceMaterial, type RunningGateway,
} from '../../support/cluster.js';
import { jsonLines, killAll } from '../../support/processes.js';
import { XmppClient } from '../../support/xmpp-client.js';

let redis: RedisServer;
let ca: CertificateAuthority;
let material: Awaited<ReturnType<typeof writeServiceMaterial>>;
const clients: XmppClient[] = [];

beforeAll(async () => {
  ca = await clusterCA();
  redis = await startRedis();
  material = await writeServiceMaterial(ca, 'recorder', [DOMAIN]);
});

afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
  killAll();
});

afterAll(async () => {
  await material?.remove();
  await stopAll();
});

type Recorder = Awaited<ReturnType<typeof startServiceProcess>>;
interface Handled {
  key: string;
  redelivered: boolean;
  origin: string;
  body: string;
  instance: string;
}

function startRecorder(instance: string, extra: NodeJS.ProcessEnv = {}): Promise<Recorder> {
  return startServiceProcess('recorder-service.mjs', {
    REDIS_URL: redis.url, DOMAINS: DOMAIN, INSTANCE: instance, CA_FILE: material.caFile, CERT_FILE: material.certFile, KEY_FILE: material.keyFile, ...extra,
  });
}

function handledBy(recorder: Recorder): Handled[] {
  return jsonLines(recorder.stdout).filter((e) => e.event === 'stanza') as unknown as Handled[];
}

function instanceFor(bareJid: string, instances: readonly string[]): string {
  return pickByRendezvous(hashString(bareJid), instances.map((id) => ({ id, hash: hashString(id) })), () => 1)!.id;
}

async function loginAll(gateway: RunningGateway, users: readonly string[]): Promise<XmppClient[]> {
  const logged: XmppClient[] = [];
  for (const user of users) {
    const client = await XmppClient.login({ port: gateway.ports.c2s, ca: ca.certPem, domain: DOMAIN, user, password: PASSWORD, resource: 'r', mechanism: 'PLAIN', sm: { autoAck: true } });
    clients.push(client);
    logged.push(client);
  }
  return logged;
}

/** XEP-0198: asks for an ack and waits (bounded) until the gateway acknowledged everything sent. */
async function allAcked(client: XmppClient, timeoutMs: number): Promise<void> {
  client.write(xml('r', { xmlns: 'urn:xmpp:sm:3' }));
  await client.wait(() => client.serverAcked === client.outbound, timeoutMs, `every stanza acked (${client.serverAcked}/${client.outbound})`);
}

describe('a service instance killed mid-stream', () => {
  let gateway: RunningGateway;
  afterAll(async () => gateway?.stop());

  it('loses no stanza when one of two instances is SIGKILLed and a third starts; duplicates only in the at-least-once window', async () => {
    gateway = await startGateway({ id: 'gw-kill', redisUrl: redis.url, ca });
    const users = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'];
    await addUsers(gateway.registry, users);
    const recorders = new Map<string, Recorder>();
    for (const name of ['rec-a', 'rec-b']) recorders.set(name, await startRecorder(name, { HANDLER_DELAY_MS: '2' }));
    await instancesRegistered([gateway], 2);
    const clients = await loginAll(gateway, users);

    const victim = instanceFor(`k1@${DOMAIN}`, ['rec-a', 'rec-b']);
    const COUNT = 80;
    let replacement: Promise<void> | undefined;
    await Promise.all(
      clients.map(async (client, u) => {
        for (let n = 1; n <= COUNT; n++) {
          client.send(message(`sink@${DOMAIN}`, `${users[u]}-${n}`));
          if (u === 0 && n === 25) {
            recorders.get(victim)!.child.kill('SIGKILL');
            replacement = startRecorder('rec-c', { HANDLER_DELAY_MS: '2' }).then((r) => void recorders.set('rec-c', r));
          }
          await new Promise((r) => setTimeout(r, 3));
        }
      }),
    );
    await replacement;
    // Every stanza acknowledged to its client means every one was handled and acked by a service.
    for (const client of clients) await allAcked(client, 20_000 + TEST_RESUME_TIMEOUT_MS);
    for (const client of clients) expect(client.received.filter((el) => el.attrs.type === 'error')).toEqual([]);

    const handled = [...recorders.values()].flatMap(handledBy);
    const bodies = new Set(handled.map((h) => h.body));
    const missing = users.flatMap((user) => Array.from({ length: COUNT }, (_, i) => `${user}-${i + 1}`)).filter((body) => !bodies.has(body));
    expect(missing).toEqual([]);
    const timesByKey = new Map<string, number>();
    for (const h of handled) timesByKey.set(h.key, (timesByKey.get(h.key) ?? 0) + 1);
    const duplicates = [...timesByKey.values()].filter((times) => times > 1).length;
    // A key handled twice is always a hand-over of the dead instance's unacknowledged stanzas.
    const redeliveredKeys = new Set(handled.filter((h) => h.redelivered).map((h) => h.key));
    for (const [key, times] of timesByKey) if (times > 1) expect(redeliveredKeys.has(key)).toBe(true);
    expect(new Set(handled.map((h) => h.key)).size).toBe(users.length * COUNT);
    expect(handled.filter((h) => h.instance === 'rec-c').length).toBeGreaterThan(0);
    console.log(`service kill: ${victim} SIGKILLed; ${handled.length} handled for ${users.length * COUNT} sent; duplicates by key: ${duplicates}; redelivered: ${redeliveredKeys.size}`);
  });
});

describe('a gateway restarted under load', () => {
  // What this pins: the SDK survives the restart (every route() resolves, what the old gateway
  // had not acknowledged is resent to the new one) and no stanza vanishes: each one reaches the
  // sink or comes back to the sender as an error stanza.
  // Known gap (reported): the new gateway answers remote-server-not-found for stanzas to
  // sink.example that reach it before the sink's own channel has re-registered there
  // (packages/gateway/src/services/from-services.ts, toService: "no service here" is treated as
  // "remote domain"). The figure is printed; when the gateway parks stanzas for a domain that is
  // served in the cluster (see the report), `bounced` becomes 0 and this test can assert it.
  it('the SDK reconnects to the new gateway on the same ports and resends what was not acknowledged', async () => {
    let first: RunningGateway | undefined = await startGateway({ id: 'gw-restart', redisUrl: redis.url, ca });
    const ports = first.ports;
    let second: RunningGateway | undefined;
    const services: DomainService[] = [];
    const registries = [await redisRegistry(redis.url), await redisRegistry(redis.url)];
    try {
      const make = async (name: string, domain: string, registryIndex: number) => {
        const cert = await serviceCertificate(ca, name, [domain]);
        const service = new DomainService({
          instance: name,
          registrations: [{ domain, type: 'client' }],
          tls: { cert: cert.certPem, key: cert.keyPem, ca: ca.certPem },
          registry: registries[registryIndex],
          discoveryIntervalMs: 300,
          reconnectBackoff: { initialMs: 50, maxMs: 300 },
        });
        services.push(service);
        return service;
      };
      const sink = await make('sink-1', 'sink.example', 0);
      const received: number[] = [];
      sink.onStanza(({ element }) => void received.push(Number(element.getChildText('body'))));
      await sink.start();
      const source = await make('source-1', 'source.example', 1);
      const bounced: Array<{ n: number; condition: string }> = [];
      source.onStanza(({ element }) => {
        const condition = element.getChild('error')?.getChildElements().find((c) => c.name !== 'text')?.name ?? '';
        bounced.push({ n: Number(String(element.attrs.id).slice(1)), condition });
      });
      await source.start();

      const COUNT = 600;
      const outcomes: Array<Promise<'ok' | string>> = [];
      let restarted: Promise<void> | undefined;
      for (let n = 1; n <= COUNT; n++) {
        const stanza = xml('message', { from: 'bot@source.example', to: 'log@sink.example', id: `s${n}` }, xml('body', {}, String(n)));
        outcomes.push(source.route(stanza).then(() => 'ok', (e: { code?: string }) => String(e.code)));
        if (n === 200) {
          // Stop the gateway while stanzas are in flight; a new one takes its place on the same ports.
          const old = first!;
          first = undefined;
          restarted = old.stop().then(async () => {
            second = await startGateway({ id: 'gw-restart', redisUrl: redis.url, ca, ports });
          });
        }
        if (n % 20 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      await restarted;
      expect(second!.ports).toEqual(ports);
      const results = await Promise.all(outcomes);
      expect(results.filter((r) => r !== 'ok')).toEqual([]);
      // Load crossed both incarnations: stanzas went through the old gateway and the new one.
      expect(second!.gateway.stats().hub!.stanzasIn).toBeGreaterThan(0);

      const delivered = () => new Set(received);
      await eventually(() => delivered().size + bounced.length >= COUNT, 20_000, 'every stanza delivered or answered');
      const accountedFor = Array.from({ length: COUNT }, (_, i) => i + 1).filter((n) => delivered().has(n) !== bounced.some((b) => b.n === n));
      expect(accountedFor).toHaveLength(COUNT); // each exactly once: delivered xor bounced
      expect(new Set(bounced.map((b) => b.condition))).toEqual(new Set(bounced.length > 0 ? ['remote-server-not-found'] : []));
      const figures = { delivered: delivered().size, duplicates: received.length - delivered().size, bounced: bounced.length };
      // Once both services are back on the new gateway, nothing is refused any more.
      const after = xml('message', { from: 'bot@source.example', to: 'log@sink.example', id: 's9999' }, xml('body', {}, '9999'));
      await eventually(() => second!.registry.routing.instances('sink.example', 'client').some((i) => i.gateways.includes('gw-restart')), 10_000, 'sink back');
      await source.route(after);
      await eventually(() => received.includes(9999), 5_000, 'a stanza after the restart');
      console.log(`gateway restart: ${COUNT} routed, ${second!.gateway.stats().hub!.stanzasIn} through the new gateway; delivered ${figures.delivered} (duplicates ${figures.duplicates}), bounced remote-server-not-found before the sink re-registered: ${figures.bounced}`);
    } finally {
      for (const service of services) await service.stop({ timeoutMs: 2_000 }).catch(() => undefined);
      for (const registry of registries) await registry.close().catch(() => undefined);
      await first?.stop();
      await second?.stop();
    }
  });
});

describe('several instances of one domain', () => {
  let gateway: RunningGateway;
  afterAll(async () => gateway?.stop());

  it("keeps each user's stanzas in order on one instance, spreads users, and moves only a leaving instance's users", async () => {
    gateway = await startGateway({ id: 'gw-spread', redisUrl: redis.url, ca });
    const users = Array.from({ length: 12 }, (_, i) => `s${i + 1}`);
    await addUsers(gateway.registry, users);
    const names = ['rec-1', 'rec-2', 'rec-3'];
    const recorders = new Map<string, Recorder>();
    for (const name of names) recorders.set(name, await startRecorder(name));
    await instancesRegistered([gateway], names.length);
    const clients = await loginAll(gateway, users);
    const COUNT = 20;
    const sendRound = async (round: string) => {
      await Promise.all(
        clients.map(async (client, u) => {
          for (let n = 1; n <= COUNT; n++) {
            client.send(message(`sink@${DOMAIN}`, `${users[u]}-${round}-${n}`));
            if (n % 5 === 0) await new Promise((r) => setTimeout(r, 2));
          }
        }),
      );
      for (const client of clients) await allAcked(client, 15_000);
    };
    /** user → instance → the numbers of `round`, in the order that instance handled them. */
    const placement = (round: string) => {
      const byUser = new Map<string, Map<string, number[]>>();
      for (const [name, recorder] of recorders) {
        for (const h of handledBy(recorder)) {
          const [user, r, n] = h.body.split('-') as [string, string, string];
          if (r !== round) continue;
          const perInstance = byUser.get(user) ?? new Map<string, number[]>();
          byUser.set(user, perInstance);
          perInstance.set(name, [...(perInstance.get(name) ?? []), Number(n)]);
        }
      }
      return byUser;
    };
    const expected = Array.from({ length: COUNT }, (_, i) => i + 1);
    const instanceOf = (byUser: Map<string, Map<string, number[]>>, user: string) => {
      const perInstance = byUser.get(user)!;
      expect([...perInstance.keys()], `${user} on one instance`).toHaveLength(1);
      const [name, numbers] = [...perInstance.entries()][0]!;
      expect(numbers, `${user} in order`).toEqual(expected);
      return name;
    };

    await sendRound('one');
    const before = placement('one');
    const home = new Map(users.map((user) => [user, instanceOf(before, user)]));
    // The gateway's choice is the rendezvous choice, and every instance got users.
    for (const user of users) expect(home.get(user)).toBe(instanceFor(`${user}@${DOMAIN}`, names));
    expect(new Set(home.values())).toEqual(new Set(names));

    // rec-2 leaves gracefully (SIGTERM → SDK stop: unregister, finish, close).
    const leaving = recorders.get('rec-2')!;
    leaving.child.kill('SIGTERM');
    expect((await leaving.exited).code).toBe(0);
    await instancesRegistered([gateway], names.length - 1);
    await sendRound('two');
    const after = placement('two');
    for (const user of users) {
      const now = instanceOf(after, user);
      if (home.get(user) === 'rec-2') expect(now).toBe(instanceFor(`${user}@${DOMAIN}`, ['rec-1', 'rec-3']));
      else expect(now, `${user} stays`).toBe(home.get(user));
    }
    console.log(`instances: ${names.map((n) => `${n}=${users.filter((u) => home.get(u) === n).length}`).join(' ')} users; rec-2 left, its users moved`);
  });
});

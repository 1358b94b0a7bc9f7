// Nothing is lost when an instance dies: what its channel never acknowledged goes to another
// live instance with the same key and REDELIVERED set, in order (docs/service-protocol.md §10.5).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isStanzaError } from '@ambrosia/errors';
import type { InboundStanza } from '../../src/contracts.js';
import { type HubFixture, type Pki, type TestService, clientStanza, connectService, makePki, parsed, startHub, until } from './helpers.js';

let pki: Pki;
let fixture: HubFixture;
const services: TestService[] = [];

beforeAll(async () => {
  pki = await makePki();
  fixture = await startHub(pki);
});

afterEach(async () => {
  await Promise.all(services.splice(0).map((service) => service.endpoint.close()));
  await until(() => fixture.hub.stats().channels === 0, 'every channel to end');
});

afterAll(async () => {
  await fixture.close();
});

async function service(instance: string, ackMode: 'auto' | 'manual' = 'auto'): Promise<TestService> {
  const connected = await connectService(fixture.port, { instance, credentials: pki.service, ackMode });
  services.push(connected);
  return connected;
}

const users = Array.from({ length: 60 }, (_, n) => `user${n}`);

function routeRounds(rounds: number, tag: string): { stanzas: InboundStanza[]; done: Promise<void[]> } {
  const stanzas: InboundStanza[] = [];
  for (let round = 0; round < rounds; round++) for (const user of users) stanzas.push(clientStanza(user, { body: `${user}#${tag}${round}` }));
  return { stanzas, done: Promise.all(stanzas.map((stanza) => fixture.hub.route(stanza))) };
}

/** Each user's bodies arrive in the order they were routed. */
function expectPerUserOrder(received: TestService['stanzas']): void {
  const seen = new Map<string, string[]>();
  for (const inbound of received) {
    const [user, tag] = parsed(inbound).getChildText('body')!.split('#');
    seen.set(user!, [...(seen.get(user!) ?? []), tag!]);
  }
  for (const tags of seen.values()) expect(tags).toEqual([...tags].sort());
}

describe('hand-over of unacknowledged stanzas', () => {
  it('reroutes what a destroyed connection never acked, same keys, redelivered, in order, nothing lost', async () => {
    const dying = await service('im-dying', 'manual');
    const survivor = await service('im-survivor');
    const { stanzas, done } = routeRounds(3, 'a');
    const events = Promise.all(users.map((user) => fixture.hub.sessionEvent('example.org', `${user}@example.org`, { event: 'bound', session: `c2s-${user}`, jid: `${user}@example.org/res` })));
    await until(() => dying.stanzas.length + survivor.stanzas.length === stanzas.length, 'every stanza to arrive somewhere');
    await until(() => dying.events.length + survivor.events.length === users.length, 'every session event to arrive somewhere');
    expect(dying.events.length).toBeGreaterThan(0);
    const held = dying.stanzas.map((inbound) => inbound.message.context.key);
    expect(held.length).toBeGreaterThan(0);
    // As if the process were killed: the transport vanishes, nothing more is sent, nothing resumes.
    dying.socket.destroy();
    dying.endpoint.destroy();
    await done; // every route() resolved: each stanza was acked by someone
    await events;
    expect(survivor.events).toHaveLength(users.length);
    const redelivered = survivor.stanzas.filter((inbound) => inbound.message.context.redelivered);
    expect(redelivered.map((inbound) => inbound.message.context.key).sort()).toEqual([...held].sort());
    expect(survivor.stanzas.length).toBe(stanzas.length);
    expectPerUserOrder(survivor.stanzas);
    expect(fixture.hub.stats().reroutes).toBeGreaterThanOrEqual(held.length);
    expect(fixture.hub.stats().pending).toBe(0);
  });

  it('reroutes what a service closing gracefully leaves unacknowledged', async () => {
    const leaving = await service('im-leaving', 'manual');
    const staying = await service('im-staying');
    const { stanzas, done } = routeRounds(2, 'b');
    await until(() => leaving.stanzas.length + staying.stanzas.length === stanzas.length, 'every stanza to arrive somewhere');
    const held = leaving.stanzas.length;
    expect(held).toBeGreaterThan(0);
    await leaving.endpoint.close('shutdown');
    await done;
    expect(staying.stanzas.filter((inbound) => inbound.message.context.redelivered)).toHaveLength(held);
    expectPerUserOrder(staying.stanzas);
  });

  it('keeps a user on the detached instance while its stanzas are in flight, then moves them all in order', async () => {
    const dying = await service('im-dying', 'manual');
    const survivor = await service('im-survivor');
    const first = routeRounds(1, 'c');
    await until(() => dying.stanzas.length + survivor.stanzas.length === first.stanzas.length, 'the first round to arrive');
    dying.socket.destroy();
    dying.endpoint.destroy();
    await until(() => fixture.hub.stats().channels === 2 && dying.endpoint.state === 'closed', 'the service side to end');
    // While the gateway waits for a RESUME, the second round queues behind the first.
    const second = routeRounds(1, 'd');
    await Promise.all([first.done, second.done]);
    expect(survivor.stanzas).toHaveLength(first.stanzas.length * 2);
    expectPerUserOrder(survivor.stanzas);
  });

  it('parks handed-back stanzas until an instance registers', async () => {
    const dying = await service('im-alone', 'manual');
    const { stanzas, done } = routeRounds(1, 'e');
    await until(() => dying.stanzas.length === stanzas.length, 'every stanza to arrive');
    dying.socket.destroy();
    dying.endpoint.destroy();
    await until(() => fixture.hub.stats().parked === stanzas.length, 'the stanzas to be parked');
    // With nothing connected, a new stanza is refused at once.
    await expect(fixture.hub.route(clientStanza('late'))).rejects.toMatchObject({ condition: 'service-unavailable' });
    const rescuer = await service('im-rescuer');
    await done;
    expect(rescuer.stanzas).toHaveLength(stanzas.length);
    expect(rescuer.stanzas.every((inbound) => inbound.message.context.redelivered)).toBe(true);
    expectPerUserOrder(rescuer.stanzas);
  });
});

describe('bounded wait', () => {
  it('rejects with service-unavailable when nobody takes a stanza within stanzaTimeoutMs', async () => {
    const short = await startHub(pki, { limits: { stanzaTimeoutMs: 600 } });
    try {
      const silent = await connectService(short.port, { instance: 'im-silent', credentials: pki.service, ackMode: 'manual' });
      const error = await short.hub.route(clientStanza('tybalt')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isStanzaError(error) && error.condition).toBe('service-unavailable');
      expect(short.hub.stats()).toMatchObject({ pending: 0, timeouts: 1 });
      silent.endpoint.destroy();
    } finally {
      await short.close();
    }
  });
});

describe('a service process killed with SIGKILL', () => {
  const script = fileURLToPath(new URL('./fixtures/service-child.mjs', import.meta.url));
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  let child: ChildProcess | undefined;

  beforeAll(() => {
    // The child runs as an outside service would: on the built package (npm test builds first).
    if (!existsSync(`${root}packages/service-protocol/dist/index.js`)) {
      const built = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}packages/service-protocol/tsconfig.build.json`], { stdio: 'inherit' });
      if (built.status !== 0) throw new Error('could not build @ambrosia/service-protocol for the child service');
    }
  });

  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
  });

  it('loses nothing: the stanzas it held go to the surviving instance, redelivered, in order', async () => {
    const survivor = await service('im-survivor');
    child = spawn(process.execPath, [script], {
      env: { ...process.env, AMBROSIA_TEST_SERVICE: JSON.stringify({ port: fixture.port, instance: 'im-child', ...pki.service }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const held: string[] = [];
    let ready = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as { ready?: string; stanza?: string };
      if (event.ready !== undefined) ready = true;
      if (event.stanza !== undefined) held.push(event.stanza);
    });
    await until(() => ready && fixture.hub.stats().instances === 2, 'the child service to register', 15_000);
    const { stanzas, done } = routeRounds(3, 'k');
    await until(() => held.length + survivor.stanzas.length === stanzas.length, 'every stanza to arrive somewhere', 10_000);
    expect(held.length).toBeGreaterThan(0);
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGKILL');
    expect(await exited).toBeNull(); // no exit code: killed by the signal
    await done;
    const redelivered = survivor.stanzas.filter((inbound) => inbound.message.context.redelivered).map((inbound) => inbound.message.context.key);
    expect(redelivered.sort()).toEqual([...held].sort());
    expect(survivor.stanzas).toHaveLength(stanzas.length);
    expectPerUserOrder(survivor.stanzas);
  });
});

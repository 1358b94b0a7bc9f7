// The authenticator: SASL with stored credentials, PRECIS usernames, brute-force limits across
// gateways, and equal timing for every outcome (observed on a virtual clock, never measured).

import { describe, expect, it } from 'vitest';
import {
  addUser,
  createAuthenticator,
  createBruteForcePolicy,
  setUserDisabled,
  type AuthenticatorOptions,
  type ConnectionInfo,
} from '../src/index.js';
import { FakeClock, MemoryCounterStore, MemoryCredentialStore } from './memory-stores.js';
import { ScramSha256Client } from './scram-client.js';

const SECRET = Buffer.alloc(32, 0x5a);
const plain = (user: string, password: string, authzid = '') => Buffer.from(`${authzid}\0${user}\0${password}`);

async function setup(overrides: Partial<AuthenticatorOptions> = {}) {
  const clock = new FakeClock();
  const credentials = new MemoryCredentialStore();
  const counters = new MemoryCounterStore(clock);
  await addUser(credentials, 'example.com', 'juliet', 'r0m30myr0m30', { iterations: 4096 });
  const policy = createBruteForcePolicy({ counters, maxFailuresPerAccount: 5, maxFailuresPerAddress: 50, baseDelayMs: 100 });
  const options: AuthenticatorOptions = {
    credentials,
    policy,
    decoySecret: SECRET,
    minResponseMs: 50,
    sasl: { decoyIterations: 4096 },
    clock,
    ...overrides,
  };
  const authenticator = createAuthenticator(options);
  const connection = (ip = '192.0.2.1', secure = true): ConnectionInfo => ({
    ip,
    domain: 'example.com',
    secure,
    channelBindings: {},
    offeredMechanisms: authenticator.offeredMechanisms({ secure, channelBindingTypes: [], hasClientCert: false }),
  });
  return { clock, credentials, counters, policy, authenticator, connection, options };
}

describe('authenticator', () => {
  it('SCRAM with a username in another case form logs in as the canonical account', async () => {
    const { authenticator, connection } = await setup();
    const session = authenticator.session(connection());
    const client = new ScramSha256Client('JULIET', 'r0m30myr0m30');
    const challenge = await session.start('SCRAM-SHA-256', client.first());
    expect(challenge.kind).toBe('challenge');
    if (challenge.kind !== 'challenge') return;
    const done = await session.step(client.final(challenge.data));
    expect(done).toMatchObject({ kind: 'success', identity: { username: 'juliet' } });
    expect(done.kind === 'success' && client.verify(done.data)).toBe(true);
    expect(session.identity?.username).toBe('juliet');
  });

  it('every answer takes the same minimum time, whatever the outcome', async () => {
    const { authenticator, connection, clock } = await setup();
    const outcomes: Array<{ condition: string; sleeps: number[] }> = [];
    for (const [user, password] of [['juliet', 'r0m30myr0m30'], ['juliet', 'wrong'], ['ghost', 'wrong'], ['\u0007', 'x']] as const) {
      clock.sleeps.length = 0;
      const step = await authenticator.session(connection(`192.0.2.${outcomes.length + 10}`)).start('PLAIN', plain(user, password));
      outcomes.push({ condition: step.kind === 'failure' ? step.condition : step.kind, sleeps: [...clock.sleeps] });
    }
    expect(outcomes.map((o) => o.condition)).toEqual(['success', 'not-authorized', 'not-authorized', 'not-authorized']);
    // The virtual clock does not move during work, so each answer waits exactly the floor.
    for (const outcome of outcomes) expect(outcome.sleeps).toEqual([50]);
  });

  it('unknown users get a stable challenge, identical on every gateway sharing the secret', async () => {
    const a = await setup();
    const b = await setup();
    const serverFirst = async (env: typeof a) => {
      const step = await env.authenticator.session(env.connection()).start('SCRAM-SHA-256', Buffer.from('n,,n=ghost,r=abc'));
      return step.kind === 'challenge' ? step.data.toString().replace(/^r=abc[^,]+/, 'r=abc') : step.kind;
    };
    expect(await serverFirst(a)).toBe(await serverFirst(b));
    expect(await serverFirst(a)).toMatch(/^r=abc,s=[A-Za-z0-9+/]{22}==,i=4096,h=/);
  });

  it('delays grow with failures, apply before the outcome is known, and end in a lockout', async () => {
    const { authenticator, connection, clock } = await setup();
    const delays: number[] = [];
    const conditions: string[] = [];
    for (let i = 0; i < 6; i++) {
      clock.sleeps.length = 0;
      const step = await authenticator.session(connection()).start('PLAIN', plain('juliet', `guess${i}`));
      conditions.push(step.kind === 'failure' ? step.condition : step.kind);
      delays.push(clock.sleeps.filter((ms) => ms !== 50).reduce((a, b) => a + b, 0));
    }
    expect(conditions).toEqual(['not-authorized', 'not-authorized', 'not-authorized', 'not-authorized', 'not-authorized', 'temporary-auth-failure']);
    expect(delays).toEqual([0, 0, 0, 100, 200, 0]); // two free failures, then doubling
    // Locked: even the right password is refused now.
    const right = await authenticator.session(connection('198.51.100.1')).start('PLAIN', plain('juliet', 'r0m30myr0m30'));
    expect(right).toMatchObject({ kind: 'failure', condition: 'temporary-auth-failure' });
    // The lockout says nothing about existence: an unknown name locks and answers the same way.
    for (let i = 0; i < 5; i++) await authenticator.session(connection('198.51.100.2')).start('PLAIN', plain('ghost', `guess${i}`));
    const ghost = await authenticator.session(connection('198.51.100.3')).start('PLAIN', plain('ghost', 'anything'));
    expect(ghost).toEqual(right);
  });

  it('the lockout holds on another gateway sharing the counters', async () => {
    const first = await setup();
    for (let i = 0; i < 5; i++) await first.authenticator.session(first.connection()).start('PLAIN', plain('ghost', 'x'));
    const second = createAuthenticator({ ...first.options });
    const session = second.session(first.connection('203.0.113.5'));
    const step = await session.start('SCRAM-SHA-256', Buffer.from('n,,n=ghost,r=abc'));
    expect(step).toMatchObject({ kind: 'failure', condition: 'temporary-auth-failure' });
  });

  it('success resets the account counter', async () => {
    const { authenticator, connection, policy, counters } = await setup();
    for (let i = 0; i < 3; i++) await authenticator.session(connection()).start('PLAIN', plain('juliet', 'bad'));
    const key = policy.keys('192.0.2.1', 'example.com/juliet').account!;
    expect(await counters.get(key)).toBe(3);
    const ok = await authenticator.session(connection()).start('PLAIN', plain('juliet', 'r0m30myr0m30'));
    expect(ok.kind).toBe('success');
    expect(await counters.get(key)).toBe(0);
  });

  it('malformed requests count against the address', async () => {
    const { authenticator, connection, policy, counters } = await setup();
    const step = await authenticator.session(connection()).start('PLAIN', Buffer.from('no nul bytes'));
    expect(step).toMatchObject({ kind: 'failure', condition: 'malformed-request' });
    expect(await counters.get(policy.keys('192.0.2.1').address)).toBe(1);
  });

  it('channel-binding negotiation failures are refused but not counted as guesses', async () => {
    const { authenticator, policy, counters } = await setup();
    // -PLUS offered (tls-exporter available); the client answers with gs2 flag `y`, as slixmpp
    // 1.8 does over TLS 1.3, and then asks for a binding type we lack.
    const offeredMechanisms = authenticator.offeredMechanisms({ secure: true, channelBindingTypes: ['tls-exporter'], hasClientCert: false });
    expect(offeredMechanisms).toContain('SCRAM-SHA-256-PLUS');
    const connection: ConnectionInfo = { ip: '192.0.2.7', domain: 'example.com', secure: true, channelBindings: { 'tls-exporter': Buffer.alloc(32, 1) }, offeredMechanisms };
    const y = await authenticator.session(connection).start('SCRAM-SHA-256', Buffer.from('y,,n=juliet,r=abcdefghijklmnop'));
    expect(y).toMatchObject({ kind: 'failure', condition: 'not-authorized', text: 'server-does-support-channel-binding' });
    const unique = await authenticator.session(connection).start('SCRAM-SHA-256-PLUS', Buffer.from('p=tls-unique,,n=juliet,r=abcdefghijklmnop'));
    expect(unique).toMatchObject({ kind: 'failure', condition: 'not-authorized', text: 'unsupported-channel-binding-type' });
    const keys = policy.keys('192.0.2.7', 'example.com/juliet');
    expect(await counters.get(keys.address)).toBe(0);
    expect(await counters.get(keys.account!)).toBe(0);
    // A wrong password still counts.
    await authenticator.session(connection).start('PLAIN', plain('juliet', 'wrong'));
    expect(await counters.get(keys.account!)).toBe(1);
  });

  it('a disabled account reads account-disabled only with the right password', async () => {
    const { authenticator, connection, credentials } = await setup();
    await setUserDisabled(credentials, 'example.com', 'juliet', true);
    expect(await authenticator.session(connection()).start('PLAIN', plain('juliet', 'r0m30myr0m30'))).toMatchObject({
      condition: 'account-disabled',
    });
    expect(await authenticator.session(connection()).start('PLAIN', plain('juliet', 'nope'))).toMatchObject({
      condition: 'not-authorized',
    });
  });

  it('a store outage is temporary-auth-failure, not an exception', async () => {
    const { authenticator, connection, credentials } = await setup();
    credentials.failing = true;
    expect(await authenticator.session(connection()).start('PLAIN', plain('juliet', 'r0m30myr0m30'))).toMatchObject({
      kind: 'failure',
      condition: 'temporary-auth-failure',
    });
  });

  it('PLAIN without TLS: encryption-required', async () => {
    const { authenticator, connection } = await setup();
    const step = await authenticator.session(connection('192.0.2.1', false)).start('PLAIN', plain('juliet', 'r0m30myr0m30'));
    expect(step).toMatchObject({ kind: 'failure', condition: 'encryption-required' });
  });

  it('refuses a short decoy secret', async () => {
    const { options } = await setup();
    expect(() => createAuthenticator({ ...options, decoySecret: Buffer.alloc(8) })).toThrow(/decoySecret/);
  });
});

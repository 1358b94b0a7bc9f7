// SCRAM server behaviour: full exchanges for every hash, identities and authzid, unknown and
// disabled accounts, and every malformed exchange ending in the right RFC 6120 §6.5 condition.

import { describe, expect, it } from 'vitest';
import { DEFAULT_ITERATIONS, isChannelBindingNegotiationFailure, SaslServer, type SaslContext, type ScramHash } from '../src/index.js';
import {
  accountTable,
  context,
  expectChallenge,
  expectFailure,
  expectSuccess,
  lookupIn,
  scramExchange,
  serverFor,
  TestScramClient,
  TEST_ITERATIONS,
} from './helpers.js';

const table = await accountTable({
  juliet: 'r0m30myr0m30',
  romeo: { password: 'secret', disabled: true },
  tybalt: { password: 'sword', hashes: ['SHA-256'] },
  'comma,equals=': 'odd-name',
});
const lookup = lookupIn(table);
const HASHES: ScramHash[] = ['SHA-1', 'SHA-256', 'SHA-512'];
const BINDING = Buffer.from('0123456789abcdef0123456789abcdef');

describe('SCRAM exchanges', () => {
  for (const hash of HASHES) {
    it(`SCRAM-${hash}: authenticates, proves the server back, and adds the XEP-0474 hash`, async () => {
      const server = serverFor();
      const ctx = context({ lookup, secure: true });
      const client = new TestScramClient({ hash, username: 'juliet', password: 'r0m30myr0m30' });
      const serverFirst = expectChallenge(await server.start(`SCRAM-${hash}`, client.first(), ctx)).toString();
      expect(serverFirst).toMatch(/^r=[^,]+,s=[A-Za-z0-9+/=]+,i=4096,h=[A-Za-z0-9+/=]+$/);
      const done = expectSuccess(await server.step(client.final(Buffer.from(serverFirst))));
      expect(client.verifyServerFinal(done.data)).toBe(true);
      expect(done.identity).toEqual({ kind: 'user', mechanism: `SCRAM-${hash}`, username: 'juliet' });
      expect(server.identity).toEqual(done.identity);
    });

    it(`SCRAM-${hash}-PLUS: binds to the channel`, async () => {
      const server = serverFor();
      const ctx = context({ lookup, channelBindings: { 'tls-exporter': BINDING } });
      const client = new TestScramClient({
        hash,
        username: 'juliet',
        password: 'r0m30myr0m30',
        binding: { flag: 'p', type: 'tls-exporter', data: BINDING },
      });
      expectSuccess(await scramExchange(server, `SCRAM-${hash}-PLUS`, client, ctx));
    });
  }

  it('escapes in saslnames decode to the real username', async () => {
    const client = new TestScramClient({ hash: 'SHA-256', username: 'comma,equals=', password: 'odd-name' });
    expect(client.first().toString()).toContain('n=comma=2Cequals=3D,');
    const done = expectSuccess(await scramExchange(serverFor(), 'SCRAM-SHA-256', client, context({ lookup })));
    expect(done.identity.username).toBe('comma,equals=');
  });

  it('works without an initial response (empty challenge first, RFC 6120 §6.4.2)', async () => {
    const server = serverFor();
    const ctx = context({ lookup });
    const client = new TestScramClient({ hash: 'SHA-1', username: 'juliet', password: 'r0m30myr0m30' });
    expect(expectChallenge(await server.start('SCRAM-SHA-1', undefined, ctx)).length).toBe(0);
    const serverFirst = expectChallenge(await server.step(client.first()));
    expectSuccess(await server.step(client.final(serverFirst)));
  });

  it('accepts the own bare JID as authzid and refuses any other with invalid-authzid', async () => {
    const ok = new TestScramClient({ hash: 'SHA-256', username: 'juliet', password: 'r0m30myr0m30', authzid: 'juliet@EXAMPLE.com' });
    const done = expectSuccess(await scramExchange(serverFor(), 'SCRAM-SHA-256', ok, context({ lookup })));
    expect(done.identity.authzid).toBe('juliet@EXAMPLE.com');
    const other = new TestScramClient({ hash: 'SHA-256', username: 'juliet', password: 'r0m30myr0m30', authzid: 'romeo@example.com' });
    expect(expectFailure(await scramExchange(serverFor(), 'SCRAM-SHA-256', other, context({ lookup }))).condition).toBe('invalid-authzid');
    // ... but only after the proof: a wrong password still reads not-authorized.
    const guess = new TestScramClient({ hash: 'SHA-256', username: 'juliet', password: 'nope', authzid: 'romeo@example.com' });
    expect(expectFailure(await scramExchange(serverFor(), 'SCRAM-SHA-256', guess, context({ lookup }))).condition).toBe('not-authorized');
  });

  it('lets the authorize hook refuse a proven identity (credentials-expired)', async () => {
    const ctx = context({ lookup, authorize: async () => ({ allowed: false, condition: 'credentials-expired' }) });
    const client = new TestScramClient({ hash: 'SHA-256', username: 'juliet', password: 'r0m30myr0m30' });
    expect(expectFailure(await scramExchange(serverFor(), 'SCRAM-SHA-256', client, ctx)).condition).toBe('credentials-expired');
  });
});

describe('accounts that cannot log in', () => {
  it('wrong password: not-authorized', async () => {
    const client = new TestScramClient({ hash: 'SHA-256', username: 'juliet', password: 'wrong' });
    const failure = expectFailure(await scramExchange(serverFor(), 'SCRAM-SHA-256', client, context({ lookup })));
    expect(failure.condition).toBe('not-authorized');
  });

  it('unknown user: a plausible, stable challenge, then not-authorized (RFC 5802 §9)', async () => {
    const secret = Buffer.alloc(32, 7);
    const first = async (server: SaslServer): Promise<string> => {
      const client = new TestScramClient({ hash: 'SHA-256', username: 'nobody', password: 'x', clientNonce: 'abc' });
      return expectChallenge(await server.start('SCRAM-SHA-256', client.first(), context({ lookup }))).toString();
    };
    const a = await first(new SaslServer({ decoySecret: secret, nonce: () => 'N' }));
    const b = await first(new SaslServer({ decoySecret: secret, nonce: () => 'N' }));
    expect(a).toBe(b); // two gateways sharing the secret answer identically
    const attrs = Object.fromEntries(a.split(',').map((p) => [p[0], p.slice(2)]));
    expect(Buffer.from(attrs.s!, 'base64')).toHaveLength(16); // same salt size as real records
    expect(Number(attrs.i)).toBe(DEFAULT_ITERATIONS);

    const server = serverFor();
    const client = new TestScramClient({ hash: 'SHA-256', username: 'nobody', password: 'x' });
    const failure = expectFailure(await scramExchange(server, 'SCRAM-SHA-256', client, context({ lookup })));
    expect(failure).toEqual({ kind: 'failure', condition: 'not-authorized', text: 'invalid-proof' });
  });

  it('wrong password and unknown user fail identically', async () => {
    const wrong = new TestScramClient({ hash: 'SHA-1', username: 'juliet', password: 'wrong' });
    const unknown = new TestScramClient({ hash: 'SHA-1', username: 'ghost', password: 'wrong' });
    const a = expectFailure(await scramExchange(serverFor(), 'SCRAM-SHA-1', wrong, context({ lookup })));
    const b = expectFailure(await scramExchange(serverFor(), 'SCRAM-SHA-1', unknown, context({ lookup })));
    expect(a).toEqual(b);
  });

  it('disabled account: account-disabled only after a correct proof', async () => {
    const right = new TestScramClient({ hash: 'SHA-512', username: 'romeo', password: 'secret' });
    expect(expectFailure(await scramExchange(serverFor(), 'SCRAM-SHA-512', right, context({ lookup }))).condition).toBe('account-disabled');
    const wrong = new TestScramClient({ hash: 'SHA-512', username: 'romeo', password: 'guess' });
    expect(expectFailure(await scramExchange(serverFor(), 'SCRAM-SHA-512', wrong, context({ lookup }))).condition).toBe('not-authorized');
  });

  it('a record without credentials for the hash fails like an unknown user', async () => {
    const client = new TestScramClient({ hash: 'SHA-1', username: 'tybalt', password: 'sword' });
    const challenge = await serverFor().start('SCRAM-SHA-1', client.first(), context({ lookup }));
    expect(expectChallenge(challenge).toString()).toContain(`i=${TEST_ITERATIONS}`);
    const server = serverFor();
    expect(expectFailure(await scramExchange(server, 'SCRAM-SHA-1', client, context({ lookup }))).condition).toBe('not-authorized');
    expectSuccess(await scramExchange(serverFor(), 'SCRAM-SHA-256', new TestScramClient({ hash: 'SHA-256', username: 'tybalt', password: 'sword' }), context({ lookup })));
  });

  it('a failing lookup is temporary-auth-failure; a refusing one passes its condition on', async () => {
    const client = () => new TestScramClient({ hash: 'SHA-1', username: 'juliet', password: 'r0m30myr0m30' });
    const broken = context({ lookup: async () => { throw new Error('registry down'); } });
    expect(expectFailure(await scramExchange(serverFor(), 'SCRAM-SHA-1', client(), broken)).condition).toBe('temporary-auth-failure');
    const refusing = context({ lookup: async () => ({ kind: 'refused', condition: 'temporary-auth-failure', text: 'try later' }) });
    expect(expectFailure(await scramExchange(serverFor(), 'SCRAM-SHA-1', client(), refusing))).toMatchObject({
      condition: 'temporary-auth-failure',
      text: 'try later',
    });
  });
});

describe('channel binding and downgrades (RFC 5802 §6)', () => {
  const plusCtx = (): SaslContext => context({ lookup, channelBindings: { 'tls-exporter': BINDING } });

  it('refuses "y" when a -PLUS mechanism was offered (a stripped offer)', async () => {
    const client = new TestScramClient({ hash: 'SHA-256', username: 'juliet', password: 'r0m30myr0m30', binding: { flag: 'y' } });
    const failure = expectFailure(await serverFor().start('SCRAM-SHA-256', client.first(), plusCtx()));
    expect(failure).toEqual({ kind: 'failure', condition: 'not-authorized', text: 'server-does-support-channel-binding' });
  });

  it('accepts "y" when no -PLUS mechanism was offered', async () => {
    const client = new TestScramClient({ hash: 'SHA-256', username: 'juliet', password: 'r0m30myr0m30', binding: { flag: 'y' } });
    expectSuccess(await scramExchange(serverFor(), 'SCRAM-SHA-256', client, context({ lookup })));
  });

  it('refuses "n" and "y" with a -PLUS mechanism, and "p" with a plain one', async () => {
    for (const flag of ['n', 'y'] as const) {
      const client = new TestScramClient({ hash: 'SHA-1', username: 'juliet', password: 'x', binding: { flag } });
      expect(expectFailure(await serverFor().start('SCRAM-SHA-1-PLUS', client.first(), plusCtx())).condition).toBe('malformed-request');
    }
    const client = new TestScramClient({ hash: 'SHA-1', username: 'juliet', password: 'x', binding: { flag: 'p', type: 'tls-exporter', data: BINDING } });
    expect(expectFailure(await serverFor().start('SCRAM-SHA-1', client.first(), plusCtx())).condition).toBe('malformed-request');
  });

  it('refuses a channel-binding type the connection does not have', async () => {
    for (const type of ['tls-unique', 'tls-server-end-point']) {
      const client = new TestScramClient({ hash: 'SHA-1', username: 'juliet', password: 'x', binding: { flag: 'p', type, data: BINDING } });
      expect(expectFailure(await serverFor().start('SCRAM-SHA-1-PLUS', client.first(), plusCtx()))).toMatchObject({
        condition: 'not-authorized',
        text: 'unsupported-channel-binding-type',
      });
    }
  });

  it('marks exactly the channel-binding negotiation failures as such (they guess nothing)', async () => {
    const stripped = new TestScramClient({ hash: 'SHA-256', username: 'juliet', password: 'x', binding: { flag: 'y' } });
    expect(isChannelBindingNegotiationFailure(expectFailure(await serverFor().start('SCRAM-SHA-256', stripped.first(), plusCtx())))).toBe(true);
    const unknownType = new TestScramClient({ hash: 'SHA-1', username: 'juliet', password: 'x', binding: { flag: 'p', type: 'tls-unique', data: BINDING } });
    expect(isChannelBindingNegotiationFailure(expectFailure(await serverFor().start('SCRAM-SHA-1-PLUS', unknownType.first(), plusCtx())))).toBe(true);
    const malformed = new TestScramClient({ hash: 'SHA-1', username: 'juliet', password: 'x', binding: { flag: 'n' } });
    expect(isChannelBindingNegotiationFailure(expectFailure(await serverFor().start('SCRAM-SHA-1-PLUS', malformed.first(), plusCtx())))).toBe(false);
  });

  it('refuses a -PLUS client without TLS with encryption-required', async () => {
    const client = new TestScramClient({ hash: 'SHA-256', username: 'juliet', password: 'x', binding: { flag: 'p', type: 'tls-exporter', data: BINDING } });
    const ctx = context({ lookup, secure: false, offeredMechanisms: ['SCRAM-SHA-256'] });
    expect(expectFailure(await serverFor().start('SCRAM-SHA-256-PLUS', client.first(), ctx)).condition).toBe('encryption-required');
  });

  it('fails when c= carries other binding data than this channel', async () => {
    const client = new TestScramClient({
      hash: 'SHA-256',
      username: 'juliet',
      password: 'r0m30myr0m30',
      binding: { flag: 'p', type: 'tls-exporter', data: Buffer.alloc(32, 1) },
    });
    expect(expectFailure(await scramExchange(serverFor(), 'SCRAM-SHA-256-PLUS', client, plusCtx()))).toMatchObject({
      condition: 'not-authorized',
      text: 'channel-bindings-dont-match',
    });
  });

  it('fails when c= does not repeat the gs2-header', async () => {
    const server = serverFor();
    const client = new TestScramClient({ hash: 'SHA-1', username: 'juliet', password: 'r0m30myr0m30' });
    const serverFirst = expectChallenge(await server.start('SCRAM-SHA-1', client.first(), context({ lookup })));
    const final = client.final(serverFirst, { channelBinding: () => Buffer.from('y,,') });
    expect(expectFailure(await server.step(final)).text).toBe('channel-bindings-dont-match');
  });

  it('with requireChannelBinding, offers only -PLUS and refuses weaker ones with mechanism-too-weak', async () => {
    const server = serverFor({ requireChannelBinding: true });
    const offered = server.offeredMechanisms({ secure: true, channelBindingTypes: ['tls-exporter'], hasClientCert: false });
    expect(offered).toEqual(['SCRAM-SHA-512-PLUS', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS']);
    const client = new TestScramClient({ hash: 'SHA-1', username: 'juliet', password: 'x' });
    expect(expectFailure(await server.start('SCRAM-SHA-1', client.first(), plusCtx())).condition).toBe('mechanism-too-weak');
  });
});

describe('malformed SCRAM messages', () => {
  const start = async (first: string | Buffer) => serverFor().start('SCRAM-SHA-1', Buffer.from(first), context({ lookup }));
  const cases: Array<[string, string | Buffer]> = [
    ['empty', ''],
    ['no gs2 flag', 'x,,n=juliet,r=abc'],
    ['truncated gs2 header', 'n,'],
    ['authzid without a=', 'n,juliet,n=juliet,r=abc'],
    ['bad escape in username', 'n,,n=jul=41iet,r=abc'],
    ['bad escape in authzid', 'n,a=x=,,n=juliet,r=abc'],
    ['empty username', 'n,,n=,r=abc'],
    ['missing nonce', 'n,,n=juliet'],
    ['nonce with a non-printable', 'n,,n=juliet,r=ab\x7fc'],
    ['mandatory extension m=', 'n,,m=ext,n=juliet,r=abc'],
    ['bad extension', 'n,,n=juliet,r=abc,1=x'],
    ['NUL in the username', 'n,,n=jul\0iet,r=abc'],
    ['NUL after the nonce', 'n,,n=juliet,r=abc\0'],
    ['invalid UTF-8', Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xc3, 0x28, 0x2c, 0x72, 0x3d, 0x61])],
    ['bad channel-binding name', 'p=tls_exporter!,,n=juliet,r=abc'],
  ];
  for (const [name, message] of cases) {
    it(`client-first: ${name} → malformed-request`, async () => {
      expect(expectFailure(await start(message)).condition).toBe('malformed-request');
    });
  }

  it('client-first of 1 MiB → malformed-request before any parsing', async () => {
    const huge = Buffer.concat([Buffer.from('n,,n='), Buffer.alloc(1024 * 1024, 0x61), Buffer.from(',r=abc')]);
    expect(expectFailure(await start(huge))).toMatchObject({ condition: 'malformed-request', text: 'payload too large' });
  });

  const finals: Array<[string, (good: string) => string, string]> = [
    ['wrong nonce prefix', (g) => g.replace(/r=[^,]+/, (r) => `r=X${r.slice(3)}`), 'not-authorized'],
    ['nonce without the server part', (g) => g.replace(/r=[^,]+/, 'r=clientnonce'), 'not-authorized'],
    ['missing proof', (g) => g.replace(/,p=.*$/, ''), 'malformed-request'],
    ['proof first', (g) => `p=${g.split(',p=')[1]},${g.split(',p=')[0]}`, 'malformed-request'],
    ['proof not base64', (g) => g.replace(/p=.*$/, 'p=!!!!'), 'malformed-request'],
    ['proof non-canonical base64', (g) => g.replace(/p=.*$/, 'p=AB=='), 'malformed-request'],
    ['proof of the wrong length', (g) => g.replace(/p=.*$/, `p=${Buffer.alloc(8).toString('base64')}`), 'not-authorized'],
    ['proof flipped', (g) => g.replace(/p=(.)/, (_m, c: string) => `p=${c === 'A' ? 'B' : 'A'}`), 'not-authorized'],
    ['c= not base64', (g) => g.replace(/^c=[^,]+/, 'c=b i'), 'malformed-request'],
    ['c= missing', (g) => g.replace(/^c=[^,]+,/, ''), 'malformed-request'],
    ['NUL inside', (g) => g.replace('r=', 'r=\0'), 'malformed-request'],
  ];
  for (const [name, edit, condition] of finals) {
    it(`client-final: ${name} → ${condition}`, async () => {
      const server = serverFor();
      const client = new TestScramClient({ hash: 'SHA-1', username: 'juliet', password: 'r0m30myr0m30', clientNonce: 'clientnonce' });
      const serverFirst = expectChallenge(await server.start('SCRAM-SHA-1', client.first(), context({ lookup })));
      const good = client.final(serverFirst).toString();
      expect(expectFailure(await server.step(Buffer.from(edit(good)))).condition).toBe(condition);
    });
  }
});

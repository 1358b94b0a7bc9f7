import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, stopAll, type RedisServer } from '@ambrosia/testing-redis';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import { createAuthenticator, createBruteForcePolicy } from '@ambrosia/auth';
import { run } from './run.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => stopAll());

describe('ambrosia user (against a real Redis)', () => {
  it('adds, lists, changes the password of, disables and deletes an account', async () => {
    const url = redis.url;
    const added = await run('--json', 'user', '--registry', url, 'add', 'Juliet@Example.ORG', '--password', 'r0meo-r0meo');
    expect(added).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(added.out)).toEqual({ jid: 'juliet@example.org' });

    const again = await run('user', '--registry', url, 'add', 'juliet@example.org', '--password', 'x-long-password');
    expect(again.code).toBe(1);
    expect(again.err).toBe('ambrosia: juliet@example.org already exists\n');

    const generated = await run('--json', 'user', '--registry', url, 'add', 'romeo@example.org');
    expect(generated.code).toBe(0);
    const { password } = JSON.parse(generated.out) as { password: string };
    expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/);

    const list = await run('user', '--registry', url, 'list', 'example.org');
    expect(list).toMatchObject({ code: 0, out: 'juliet@example.org\nromeo@example.org\n' });
    const page = await run('--json', 'user', '--registry', url, 'list', 'example.org', '--limit', '1');
    const first = JSON.parse(page.out) as { users: string[]; cursor: string };
    expect(first.users).toEqual(['juliet']);
    const next = await run('--json', 'user', '--registry', url, 'list', 'example.org', '--limit', '1', '--cursor', first.cursor);
    expect(JSON.parse(next.out).users).toEqual(['romeo']);

    expect((await run('user', '--registry', url, 'passwd', 'juliet@example.org', '--password', 'new-secret-1')).code).toBe(0);
    // The stored record is a SCRAM record the gateway's authenticator accepts with the new password.
    const registry = createRedisRegistry({ url });
    try {
      await registry.ready({ timeoutMs: 5000 });
      const record = await registry.credentials.get('example.org', 'juliet');
      expect(Object.keys(record?.scram ?? {}).sort()).toEqual(['SHA-1', 'SHA-256', 'SHA-512']);
      expect(JSON.stringify(record)).not.toContain('new-secret-1');
      const auth = createAuthenticator({
        credentials: registry.credentials,
        policy: createBruteForcePolicy({ counters: registry.counters }),
        decoySecret: Buffer.from('a decoy secret of sixteen bytes or more'),
        minResponseMs: 0,
      });
      const conn = (ip: string) => ({ ip, domain: 'example.org', secure: true, channelBindings: {}, offeredMechanisms: ['PLAIN'] });
      const plain = (pw: string) => Buffer.from(`\0juliet\0${pw}`);
      const ok = await auth.session(conn('127.0.0.1')).start('PLAIN', plain('new-secret-1'));
      expect(ok.kind).toBe('success');
      const old = await auth.session(conn('127.0.0.2')).start('PLAIN', plain('r0meo-r0meo'));
      expect(old.kind).toBe('failure');
    } finally {
      await registry.close();
    }

    expect((await run('user', '--registry', url, 'disable', 'juliet@example.org')).out).toBe('juliet@example.org disabled\n');
    expect((await run('user', '--registry', url, 'enable', 'juliet@example.org')).code).toBe(0);
    expect((await run('user', '--registry', url, 'del', 'juliet@example.org')).out).toBe('deleted juliet@example.org\n');
    const gone = await run('user', '--registry', url, 'del', 'juliet@example.org');
    expect(gone).toMatchObject({ code: 1, err: 'ambrosia: juliet@example.org does not exist\n' });
  });

  it('reads the password from stdin-less flags and refuses bad input with exit code 2', async () => {
    const bad = await run('user', '--registry', redis.url, 'add', 'no-domain');
    expect(bad).toMatchObject({ code: 2, err: 'ambrosia: "no-domain" is not an account address: write it as user@domain\n' });
    const both = await run('user', '--registry', redis.url, 'add', 'a@example.org', '--password', 'x', '--password-stdin');
    expect(both.code).toBe(2);
    const badUrl = await run('user', '--registry', 'http://nope', 'list', 'example.org');
    expect(badUrl.code).toBe(2);
    expect(badUrl.err).toContain('registry URL must start with redis://');
    const limit = await run('user', '--registry', redis.url, 'list', 'example.org', '--limit', '0');
    expect(limit).toMatchObject({ code: 2, err: 'ambrosia: --limit must be an integer from 1 to 1000\n' });
  });

  it('says plainly when the registry cannot be reached', async () => {
    const down = await run('user', '--registry', 'redis://127.0.0.1:1', 'list', 'example.org');
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/^ambrosia: cannot reach the registry at redis:\/\/127\.0\.0\.1:1: /);
  });
});

// `ambrosia see-other-host` against a real redis-server: keys normalised with @ambrosia/jid as
// the gateway looks them up, targets checked as RFC 6120 §4.9.3.19 host[:port], expiry, paging,
// and one readable line with exit code 2 (usage) or 1 (failure) for every refusal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import { startRedis, stopAll, type RedisServer } from '@ambrosia/testing-redis';
import { run } from './run.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => stopAll());

const soh = (...args: string[]) => run('see-other-host', '--registry', redis.url, ...args);
const sohJson = (...args: string[]) => run('--json', 'see-other-host', '--registry', redis.url, ...args);

describe('ambrosia see-other-host (against a real Redis)', () => {
  it('sets, gets, lists and deletes entries under the keys the gateway looks up', async () => {
    // A domain key is the prepared domainpart; a JID key the prepared bare JID (RFC 7622).
    const setDomain = await sohJson('set', 'Old.EXAMPLE.', 'new.example.net:5223');
    expect(setDomain).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(setDomain.out)).toEqual({ key: 'old.example', target: 'new.example.net:5223' });
    const setUser = await soh('set', 'Juliet@Old.Example', 'eu.example.net');
    expect(setUser).toMatchObject({ code: 0, out: 'juliet@old.example → eu.example.net\n', err: '' });

    // The stored values are what another registry node (a gateway) reads.
    const registry = createRedisRegistry({ url: redis.url });
    try {
      await registry.ready({ timeoutMs: 5000 });
      expect(await registry.seeOtherHost.get('old.example')).toEqual({ key: 'old.example', target: 'new.example.net:5223' });
      expect((await registry.seeOtherHost.resolve('romeo@old.example'))?.target).toBe('new.example.net:5223');
      expect((await registry.seeOtherHost.resolve('juliet@old.example'))?.target).toBe('eu.example.net');
    } finally {
      await registry.close();
    }

    expect(await soh('get', 'JULIET@old.example')).toMatchObject({ code: 0, out: 'juliet@old.example → eu.example.net (expires never)\n' });
    // --resolve: what a login of that account meets (its own entry, else its domain's).
    const resolved = await sohJson('get', 'romeo@old.example', '--resolve');
    expect(JSON.parse(resolved.out)).toEqual({ key: 'old.example', target: 'new.example.net:5223' });
    expect(await soh('get', 'romeo@old.example')).toMatchObject({ code: 1, out: '', err: 'ambrosia: no see-other-host entry for romeo@old.example\n' });

    const list = await soh('list');
    expect(list.code).toBe(0);
    expect(list.out.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/^key\s+target\s+expires$/),
      expect.stringMatching(/^juliet@old\.example\s+eu\.example\.net\s+never$/),
      expect.stringMatching(/^old\.example\s+new\.example\.net:5223\s+never$/),
    ]);

    expect(await soh('del', 'juliet@OLD.example')).toMatchObject({ code: 0, out: 'deleted the see-other-host entry for juliet@old.example\n' });
    expect(await soh('del', 'juliet@old.example')).toMatchObject({ code: 1, err: 'ambrosia: no see-other-host entry for juliet@old.example\n' });
    expect(await soh('get', 'juliet@old.example', '--resolve')).toMatchObject({ code: 0, out: 'old.example → new.example.net:5223 (expires never)\n' });
    expect((await soh('del', 'old.example')).code).toBe(0);
    expect(await soh('list')).toMatchObject({ code: 0, out: 'no see-other-host entries\n' });
  });

  it('writes internationalised keys in the U-label form and targets in A-labels, IPv6 in brackets', async () => {
    const idn = await sohJson('set', 'MÜNCHEN.example', 'Zürich.example:5222');
    expect(JSON.parse(idn.out)).toEqual({ key: 'münchen.example', target: 'xn--zrich-kva.example:5222' });
    // The A-label form of the key is the same domain (RFC 7622 §3.2): the gateway sees the U-label.
    expect(JSON.parse((await sohJson('get', 'xn--mnchen-3ya.example')).out).target).toBe('xn--zrich-kva.example:5222');
    const v6 = await sohJson('set', 'v6.example', '[2001:DB8::1]:5222');
    expect(JSON.parse(v6.out)).toEqual({ key: 'v6.example', target: '[2001:db8::1]:5222' });
    const v4 = await sohJson('set', 'v4.example', '192.0.2.7');
    expect(JSON.parse(v4.out).target).toBe('192.0.2.7');
    for (const key of ['münchen.example', 'v6.example', 'v4.example']) expect((await soh('del', key)).code).toBe(0);
  });

  it('expires an entry after --ttl and pages with --limit/--cursor', async () => {
    const set = await sohJson('set', 'brief.example', 'elsewhere.example', '--ttl', '1s');
    expect(set.code).toBe(0);
    const { expiresAt } = JSON.parse(set.out) as { expiresAt: string };
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now() - 5000);
    expect((await soh('get', 'brief.example')).out).toMatch(/^brief\.example → elsewhere\.example \(expires in (?:\d+ms|1s)\)\n$/);
    // Bounded wait for Redis to expire the key (PX 1000).
    const deadline = Date.now() + 10_000;
    let gone = false;
    while (!gone && Date.now() < deadline) {
      gone = (await soh('get', 'brief.example')).code === 1;
      if (!gone) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(gone).toBe(true);

    for (const n of [1, 2, 3]) expect((await soh('set', `page${n}.example`, 'target.example', '--ttl', '10m')).code).toBe(0);
    const first = JSON.parse((await sohJson('list', '--limit', '2')).out) as { entries: Array<{ key: string; expiresAt: string }>; cursor: string };
    expect(first.entries.map((e) => e.key)).toEqual(['page1.example', 'page2.example']);
    expect(Date.parse(first.entries[0]!.expiresAt)).toBeGreaterThan(Date.now() + 9 * 60_000);
    const human = await soh('list', '--limit', '2');
    expect(human.out).toContain(`(more: --cursor ${first.cursor})`);
    expect(human.out).toMatch(/page1\.example\s+target\.example\s+in 10m/);
    const second = JSON.parse((await sohJson('list', '--limit', '2', '--cursor', first.cursor)).out) as { entries: Array<{ key: string }>; cursor?: string };
    expect(second).toEqual({ entries: [expect.objectContaining({ key: 'page3.example' })] });
  });

  it('refuses bad input with one line and exit code 2', async () => {
    const cases: Array<[string[], string]> = [
      [['set', 'example.org', 'host:0'], 'ambrosia: "host:0" is not a see-other-host target (host[:port]): the port must be 1-65535'],
      [['set', 'example.org', 'host:65536'], 'ambrosia: "host:65536" is not a see-other-host target (host[:port]): the port must be 1-65535'],
      [['set', 'example.org', '2001:db8::1'], 'ambrosia: "2001:db8::1" is not a see-other-host target (host[:port]): write an IPv6 address in brackets: [2001:db8::1]'],
      [['set', 'example.org', '[2001:db8::1'], 'ambrosia: "[2001:db8::1" is not a see-other-host target (host[:port]): an IPv6 literal needs its closing "]"'],
      [['set', 'example.org', '[192.0.2.1]:5222'], 'ambrosia: "[192.0.2.1]:5222" is not a see-other-host target (host[:port]): the bracketed address is not IPv6'],
      [['set', 'example.org', 'bad_host!'], 'ambrosia: "bad_host!" is not a see-other-host target (host[:port]): the host is not a host name or IPv4 address'],
      [['set', 'example.org', 'bad host'], 'ambrosia: "bad host" is not a see-other-host target (host[:port]): write host[:port] alone, without a scheme, user or path'],
      [['set', 'example.org', ':5222'], 'ambrosia: ":5222" is not a see-other-host target (host[:port]): the host is missing'],
      [['set', 'example.org', 'https://host/'], 'ambrosia: "https://host/" is not a see-other-host target (host[:port]): write host[:port] alone, without a scheme, user or path'],
      [['set', 'example.org', 'a:1:2'], 'ambrosia: "a:1:2" is not a see-other-host target (host[:port]): too many ":"'],
      [['set', 'juliet@example.org/balcony', 'host'], 'ambrosia: "juliet@example.org/balcony" has a resource: see-other-host entries are for a bare JID or a domain'],
      [['set', 'example.org', 'host', '--ttl', '10'], 'ambrosia: --ttl takes a duration such as 30s, 10m, 2h or 7d (got "10")'],
      [['set', 'example.org', 'host', '--ttl', '0s'], 'ambrosia: --ttl must be longer than 0'],
      [['set', 'example.org', 'host', '--ttl', '367d'], 'ambrosia: --ttl must be at most 366d (got "367d")'],
      [['list', '--limit', '1001'], 'ambrosia: --limit must be an integer from 1 to 1000'],
    ];
    for (const [args, line] of cases) {
      const result = await soh(...args);
      expect({ args, code: result.code, err: result.err, out: result.out }).toEqual({ args, code: 2, err: `${line}\n`, out: '' });
    }
    const badJid = await soh('get', '♚@example.org');
    expect(badJid.code).toBe(2);
    expect(badJid.err).toMatch(/^ambrosia: "♚@example\.org" is not a valid JID or domain: .+\n$/);
    // A missing argument is commander's usage error, also exit code 2.
    expect((await soh('set', 'example.org')).code).toBe(2);
  });

  it('says plainly when the registry cannot be reached', async () => {
    const down = await run('see-other-host', '--registry', 'redis://127.0.0.1:1', 'list');
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/^ambrosia: cannot reach the registry at redis:\/\/127\.0\.0\.1:1: [^\n]+\n$/);
  });
});

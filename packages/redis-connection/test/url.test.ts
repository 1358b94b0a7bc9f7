// Every URL form with what it parses to, and every class of malformed URL with the error it gets.
// The secret in a URL (password, sentinelPassword) never appears in an error message.

import { isRedisUrlError, MAX_REDIS_URL_HOSTS, parseRedisUrl, redactRedisUrl, RedisUrlError, type RedisTopology } from '@ambrosia/redis-connection';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

function failure(url: string): RedisUrlError {
  try {
    parseRedisUrl(url);
  } catch (e) {
    expect(isRedisUrlError(e), String(e)).toBe(true);
    return e as RedisUrlError;
  }
  throw new Error(`${url} was accepted`);
}

const VALID: Array<[string, RedisTopology]> = [
  ['redis://127.0.0.1', { mode: 'standalone', host: '127.0.0.1', port: 6379, db: 0, tls: false }],
  ['redis://127.0.0.1:40211', { mode: 'standalone', host: '127.0.0.1', port: 40211, db: 0, tls: false }],
  ['redis://redis.example/', { mode: 'standalone', host: 'redis.example', port: 6379, db: 0, tls: false }],
  ['redis://h:1/15', { mode: 'standalone', host: 'h', port: 1, db: 15, tls: false }],
  ['redis://h:65535?', { mode: 'standalone', host: 'h', port: 65535, db: 0, tls: false }],
  ['rediss://user:p%40ss@redis.example/3', { mode: 'standalone', host: 'redis.example', port: 6379, db: 3, tls: true, username: 'user', password: 'p@ss' }],
  ['rediss://u%40x:p%3Aw@h:7000/3', { mode: 'standalone', host: 'h', port: 7000, db: 3, tls: true, username: 'u@x', password: 'p:w' }],
  // A password containing ":" after the first one stays whole; "," in the userinfo does not split hosts.
  ['redis://u:a:b,c@h', { mode: 'standalone', host: 'h', port: 6379, db: 0, tls: false, username: 'u', password: 'a:b,c' }],
  // No colon: a password without a user (Redis < 6, AUTH <password>).
  ['redis://secret@[::1]:7001', { mode: 'standalone', host: '::1', port: 7001, db: 0, tls: false, password: 'secret' }],
  ['redis://:only-password@h', { mode: 'standalone', host: 'h', port: 6379, db: 0, tls: false, password: 'only-password' }],
  ['redis://[::ffff:127.0.0.1]', { mode: 'standalone', host: '::ffff:127.0.0.1', port: 6379, db: 0, tls: false }],
  [
    'redis-sentinel://127.0.0.1:41001,127.0.0.1:41002,h3/mymaster?db=2&sentinelPassword=s',
    {
      mode: 'sentinel',
      sentinels: [
        { host: '127.0.0.1', port: 41001 },
        { host: '127.0.0.1', port: 41002 },
        { host: 'h3', port: 26379 },
      ],
      masterName: 'mymaster',
      db: 2,
      tls: false,
      sentinelPassword: 's',
    },
  ],
  [
    'redis-sentinel://u:p@[::1],b:1/my.master_1-a?tls=true&sentinelPassword=a%26b%40c',
    {
      mode: 'sentinel',
      sentinels: [
        { host: '::1', port: 26379 },
        { host: 'b', port: 1 },
      ],
      masterName: 'my.master_1-a',
      db: 0,
      tls: true,
      username: 'u',
      password: 'p',
      sentinelPassword: 'a&b@c',
    },
  ],
  ['redis-sentinel://s/m?tls=0', { mode: 'sentinel', sentinels: [{ host: 's', port: 26379 }], masterName: 'm', db: 0, tls: false }],
  [
    'redis-cluster://a:1,b:2,[::1]:3?tls=true',
    {
      mode: 'cluster',
      nodes: [
        { host: 'a', port: 1 },
        { host: 'b', port: 2 },
        { host: '::1', port: 3 },
      ],
      tls: true,
    },
  ],
  ['redis-cluster://u:p@n1/', { mode: 'cluster', nodes: [{ host: 'n1', port: 6379 }], tls: false, username: 'u', password: 'p' }],
  ['redis-cluster://n1?tls=1', { mode: 'cluster', nodes: [{ host: 'n1', port: 6379 }], tls: true }],
];

// [url, a fragment of the error message]
const MALFORMED: Array<[string, string]> = [
  ['', 'a redis URL is required'],
  ['not a url', 'not of the form scheme://'],
  ['REDIS://h', 'not of the form scheme://'],
  ['redis:/h', 'not of the form scheme://'],
  ['http://x', 'unknown scheme "http"'],
  ['ftp://h', 'unknown scheme "ftp"'],
  ['redis://', 'empty host'],
  ['redis-cluster://a:1,,b:2', 'empty host'],
  ['redis://h:', '"h:" is not host[:port]'],
  ['redis://h:port', '"h:port" is not host[:port]'],
  ['redis://h:123456', '"h:123456" is not host[:port]'],
  ['redis://h:0', 'bad port in "h:0"'],
  ['redis://host:99999', 'bad port in "host:99999"'],
  ['redis://::1', 'IPv6 hosts go in brackets'],
  ['redis://::1:6379', 'IPv6 hosts go in brackets'],
  ['redis://[::1', 'is not host[:port]'],
  ['redis://[::1]x', 'is not host[:port]'],
  ['redis://[not-ipv6]', 'is not host[:port]'],
  ['redis://h st', 'is not host[:port]'],
  ['redis://a:1,b:2', 'one host only'],
  ['redis://a,b', 'one host only'],
  ['redis://h/db', 'bad database number "db"'],
  ['redis://h/123456', 'bad database number "123456"'],
  ['redis://h?x=1', 'unknown parameter "x" (allowed: none)'],
  ['rediss://h?tls=true', 'unknown parameter "tls" (allowed: none)'],
  ['redis-sentinel://h', 'the path must be the master name'],
  ['redis-sentinel://a:1/', 'the path must be the master name'],
  ['redis-sentinel://a:1/my/master', 'the path must be the master name'],
  ['redis-sentinel://a:1/name?bogus=1', 'unknown parameter "bogus" (allowed: db, sentinelPassword, tls)'],
  ['redis-sentinel://a:1/name?db=x', 'bad database number "x"'],
  ['redis-sentinel://a:1/name?db=1&db=2', 'parameter "db" given twice'],
  ['redis-sentinel://a:1/name?tls=yes', '"yes" is not a boolean'],
  ['redis-cluster://a:1/0', 'a cluster URL has no path'],
  ['redis-cluster://h/1', 'a cluster URL has no path'],
  ['redis-cluster://h?tls=maybe', '"maybe" is not a boolean'],
  ['redis-cluster://h?db=1', 'unknown parameter "db" (allowed: tls)'],
  ['redis://u:%E0%A4%A@h', 'bad percent-encoding in the user name or password'],
  ['redis://u:p@ss@h', 'must be percent-encoded'],
  ['redis://u:p/ss@h', 'must be percent-encoded'],
  ['redis://u:p?ss@h', 'must be percent-encoded'],
  [`redis-cluster://${Array.from({ length: MAX_REDIS_URL_HOSTS + 1 }, (_, i) => `n${i}`).join(',')}`, `more than ${MAX_REDIS_URL_HOSTS} hosts`],
];

describe('parseRedisUrl', () => {
  it.each(VALID)('parses %s', (url, topology) => {
    expect(parseRedisUrl(url)).toEqual(topology);
  });

  it(`accepts ${MAX_REDIS_URL_HOSTS} hosts`, () => {
    const url = `redis-cluster://${Array.from({ length: MAX_REDIS_URL_HOSTS }, (_, i) => `n${i}:${7000 + i}`).join(',')}`;
    const topology = parseRedisUrl(url);
    expect(topology.mode === 'cluster' && topology.nodes.length).toBe(MAX_REDIS_URL_HOSTS);
  });

  it.each(MALFORMED)('refuses %j: %s', (url, why) => {
    const error = failure(url);
    expect(error.code).toBe('REDIS_URL_INVALID');
    expect(error).toBeInstanceOf(RangeError);
    expect(error.name).toBe('RedisUrlError');
    expect(error.message).toContain(why);
  });

  it('refuses what is not a string', () => {
    expect(failure(undefined as unknown as string).message).toContain('a redis URL is required');
    expect(failure(42 as unknown as string).message).toContain('a redis URL is required');
  });

  it('round-trips any percent-encoded user name and password', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 30 }), (user, password) => {
        const topology = parseRedisUrl(`redis://${encodeURIComponent(user)}:${encodeURIComponent(password)}@h:1`);
        expect(topology).toMatchObject({ username: user, password });
      }),
    );
  });
});

describe('secrets in error messages', () => {
  it.each([
    ['redis://user:hunter2@a:1,b:2', 'user:***@'],
    ['redis://user:hunter2@h:1/x', 'user:***@'],
    ['redis://hunter2@a,b', '"redis://***@a,b"'],
    ['rediss://:hunter2@h?x=1', '"rediss://:***@h?x=1"'],
    ['redis-sentinel://a:1/m?sentinelPassword=hunter2&bogus=1', 'sentinelPassword=***&bogus=1'],
    ['redis-sentinel://a:1/m?bogus=1&sentinelPassword=hunter2', 'bogus=1&sentinelPassword=***'],
    ['redis://u:hun@ter2@h:0', '"redis://***"'],
    ['redis://u:hun/ter2@h', '"redis://***"'],
    ['redis://u:hunter2@h st', 'u:***@h st'],
    ['redis://u:%hunter2@h', 'u:***@h'],
    ['REDIS://u:hunter2@h', 'u:***@h'],
  ])('%s', (url, shown) => {
    const { message } = failure(url);
    expect(message).not.toContain('hunter2');
    expect(message).not.toContain('ter2');
    expect(message).toContain(shown);
  });

  it('never echoes a password, however badly it is written into the URL', () => {
    // The secret starts and ends with markers that nothing else in the URL contains.
    const secret = fc.string({ maxLength: 12 }).map((middle) => `Qz${middle}Kx`);
    const invalidTail = fc.constantFrom('@a:1,b:2', '@h:0', '@h:99999/x', '@h?nope=1', '@[::1', '@h/db');
    fc.assert(
      fc.property(secret, invalidTail, fc.constantFrom('user:', ':', ''), (password, tail, before) => {
        // Without a colon before it, the secret's first ":" would make its start a user name.
        fc.pre(before !== '' || !password.includes(':'));
        const url = `redis://${before}${password}${tail}`;
        let message = '';
        try {
          parseRedisUrl(url);
        } catch (e) {
          expect(isRedisUrlError(e), String(e)).toBe(true);
          message = (e as Error).message;
        }
        expect(message).not.toBe('');
        expect(message).not.toContain('Qz');
        expect(message).not.toContain('Kx');
      }),
      { numRuns: 500 },
    );
  });
});

describe('redactRedisUrl', () => {
  it.each([
    ['redis://127.0.0.1:6379/2', 'redis://127.0.0.1:6379/2'],
    ['redis://user:pw@h', 'redis://user:***@h'],
    ['redis://pw@h', 'redis://***@h'],
    ['redis-sentinel://u:pw@a,b/m?sentinelPassword=pw2&db=1', 'redis-sentinel://u:***@a,b/m?sentinelPassword=***&db=1'],
    ['redis://u:p@w@h', 'redis://***'],
    ['not a url', 'not a url'],
    ['pw@h', '***'],
  ])('%s → %s', (url, redacted) => {
    expect(redactRedisUrl(url)).toBe(redacted);
  });
});

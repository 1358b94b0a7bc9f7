import { isRegistryError } from '@ambrosia/registry';
import { decodeKeyPart, encodeKeyPart, keyLayout, parseRedisUrl } from '@ambrosia/registry-redis';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return isRegistryError(e) ? e.code : String(e);
  }
}

describe('redis URLs', () => {
  it('parses the four forms', () => {
    expect(parseRedisUrl('redis://127.0.0.1:40211')).toEqual({ mode: 'standalone', host: '127.0.0.1', port: 40211, db: 0, tls: false });
    expect(parseRedisUrl('rediss://user:p%40ss@redis.example/3')).toEqual({
      mode: 'standalone',
      host: 'redis.example',
      port: 6379,
      db: 3,
      tls: true,
      username: 'user',
      password: 'p@ss',
    });
    expect(parseRedisUrl('redis://secret@[::1]:7000')).toMatchObject({ host: '::1', port: 7000, password: 'secret' });
    expect(parseRedisUrl('redis-sentinel://127.0.0.1:41001,127.0.0.1:41002,h3/mymaster?db=2&sentinelPassword=s')).toEqual({
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
    });
    expect(parseRedisUrl('redis-cluster://a:1,b:2,[::1]:3?tls=true')).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'a', port: 1 },
        { host: 'b', port: 2 },
        { host: '::1', port: 3 },
      ],
      tls: true,
    });
  });

  it('rejects malformed URLs without echoing the password', () => {
    for (const bad of [
      '',
      'http://x',
      'redis://a:1,b:2',
      'redis://host:99999',
      'redis://::1:6379',
      'redis-sentinel://a:1/',
      'redis-sentinel://a:1/name?bogus=1',
      'redis-cluster://a:1/0',
      'redis://host/db',
    ]) {
      expect(codeOf(() => parseRedisUrl(bad)), bad).toBe('REGISTRY_INVALID_ARGUMENT');
    }
    try {
      parseRedisUrl('redis://user:hunter2@a:1,b:2');
    } catch (e) {
      expect(String(e)).not.toContain('hunter2');
    }
  });
});

describe('key layout', () => {
  it('encodes any identifier so it cannot open a hash tag or fake a separator, and decodes back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (part) => {
        const encoded = encodeKeyPart(part);
        expect(encoded).not.toMatch(/[{}:/\s]/u);
        expect(decodeKeyPart(encoded)).toBe(part);
      }),
    );
  });

  it('keeps distinct identifiers on distinct keys and puts multi-key scripts in one slot', () => {
    const keys = keyLayout('amb');
    expect(keys.sessions('a:b')).not.toBe(keys.sessions('a%3Ab'));
    expect(keys.service('x', 'client')).not.toBe(keys.service('x', 'server'));
    const tag = (key: string) => /\{([^}]*)\}/.exec(key)?.[1];
    expect(tag(keys.credentials('{evil}'))).toBe(tag(keys.credentialIndex('{evil}')));
    expect(keys.credentials('{evil}')).toBe('amb:cred:{%7Bevil%7D}:users');
    for (const key of [keys.gateways, keys.service('d', 'client'), keys.sessions('u@d'), keys.resumption('r'), keys.seeOtherHost('d'), keys.counter('c')]) {
      expect(key.startsWith('amb:')).toBe(true);
      expect(tag(key)).toBeDefined();
    }
    expect(codeOf(() => keyLayout('bad{prefix}'))).toBe('REGISTRY_INVALID_ARGUMENT');
    expect(codeOf(() => keyLayout(''))).toBe('REGISTRY_INVALID_ARGUMENT');
  });
});

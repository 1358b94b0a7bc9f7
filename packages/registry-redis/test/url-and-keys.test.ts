import { isRegistryError } from '@ambrosia/registry';
import { parseRedisUrl as sharedParseRedisUrl } from '@ambrosia/redis-connection';
import { createRedisRegistry, decodeKeyPart, encodeKeyPart, keyLayout, parseRedisUrl } from '@ambrosia/registry-redis';
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

// The URL forms themselves are tested in @ambrosia/redis-connection; here only what this package
// adds: the same parser re-exported, and a bad URL refused with the registry's own code.
describe('redis URLs', () => {
  it('re-exports the parser of @ambrosia/redis-connection', () => {
    expect(parseRedisUrl).toBe(sharedParseRedisUrl);
    expect(parseRedisUrl('redis-sentinel://a:1,b/mymaster')).toMatchObject({ mode: 'sentinel', masterName: 'mymaster' });
  });

  it('refuses a bad URL with REGISTRY_INVALID_ARGUMENT, without echoing the password', () => {
    for (const url of ['', 'http://x', 'redis://a:1,b:2', 'redis-sentinel://a:1/', 'redis-cluster://a:1/0', 'redis://u:p@ss@h']) {
      expect(codeOf(() => createRedisRegistry({ url })), url).toBe('REGISTRY_INVALID_ARGUMENT');
    }
    let message = '';
    try {
      createRedisRegistry({ url: 'redis://user:hunter2@a:1,b:2' });
    } catch (e) {
      message = String(e);
    }
    expect(message).toContain('REGISTRY_INVALID_ARGUMENT: redis URL "redis://user:***@a:1,b:2": one host only');
    expect(message).not.toContain('hunter2');
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

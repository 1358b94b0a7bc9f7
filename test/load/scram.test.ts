// The SCRAM client against RFC 5802 §5's worked example (SCRAM-SHA-1) and RFC 7677 §3's
// (SCRAM-SHA-256), and the cache's behaviour.
import { describe, expect, it } from 'vitest';
import { SaltedPasswordCache, ScramClient, plainResponse } from './src/index.js';

describe('ScramClient', () => {
  it('computes RFC 5802 §5 example messages and accepts its server signature', async () => {
    const client = new ScramClient('sha1', 'user', 'pencil', new SaltedPasswordCache(), 'fyko+d2lbbFgONRv9qkxdawL');
    expect(client.first()).toBe('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
    const final = await client.respond('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');
    expect(final).toBe('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=');
    expect(client.verify('v=rmF9pqV8S7suAoZWja4dJRkFsKQ=')).toBe(true);
    expect(client.verify('v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=')).toBe(false);
    expect(client.verify('e=invalid-proof')).toBe(false);
  });

  it('computes RFC 7677 §3 example messages (SCRAM-SHA-256)', async () => {
    const client = new ScramClient('sha256', 'user', 'pencil', new SaltedPasswordCache(), 'rOprNGfwEbeRWgbNEkqO');
    expect(client.first()).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const final = await client.respond('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    expect(final).toBe('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    expect(client.verify('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')).toBe(true);
  });

  it('refuses a server nonce that does not extend its own, and absurd iteration counts', async () => {
    const cache = new SaltedPasswordCache();
    const a = new ScramClient('sha1', 'user', 'pencil', cache, 'abc');
    a.first();
    await expect(a.respond('r=xyz123,s=QSXCR+Q6sek8bf92,i=4096')).rejects.toThrow(/nonce/);
    const b = new ScramClient('sha1', 'user', 'pencil', cache, 'abc');
    b.first();
    await expect(b.respond('r=abc123,s=QSXCR+Q6sek8bf92,i=100000000')).rejects.toThrow(/iteration/);
  });

  it('escapes = and , in the username (RFC 5802 §5.1)', () => {
    expect(new ScramClient('sha1', 'a=b,c', 'p', new SaltedPasswordCache(), 'n').first()).toBe('n,,n=a=3Db=2Cc,r=n');
  });
});

describe('SaltedPasswordCache', () => {
  it('derives once per key, keys on the password too, and stays bounded', async () => {
    const cache = new SaltedPasswordCache(2);
    const one = await cache.derive('sha1', 'u', 'p', 'c2FsdA==', 64);
    expect(await cache.derive('sha1', 'u', 'p', 'c2FsdA==', 64)).toBe(one);
    expect(cache).toMatchObject({ hits: 1, misses: 1 });
    expect(await cache.derive('sha1', 'u', 'other', 'c2FsdA==', 64)).not.toEqual(one);
    await cache.derive('sha1', 'v', 'p', 'c2FsdA==', 64);
    expect(cache.size).toBe(2);
    await cache.derive('sha1', 'u', 'p', 'c2FsdA==', 64); // the oldest was dropped: derived again
    expect(cache.misses).toBe(4);
  });

  it('PLAIN is NUL user NUL password (RFC 4616)', () => {
    expect(plainResponse('juliet', 'r0m30')).toBe('\u0000juliet\u0000r0m30');
  });
});

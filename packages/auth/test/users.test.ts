// User management for `ambrosia user add|passwd|del|list`.

import { verifyPlain } from '@ambrosia/sasl';
import { describe, expect, it } from 'vitest';
import { addUser, deleteUser, isAuthError, listUsers, setPassword, setUserDisabled } from '../src/index.js';
import { MemoryCredentialStore } from './memory-stores.js';

const ITERATIONS = { iterations: 4096 };
const codeOf = async (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (isAuthError(e) ? e.code : String(e)));

describe('addUser', () => {
  it('stores SCRAM credentials for every hash under the canonical name, never the password', async () => {
    const store = new MemoryCredentialStore();
    const added = await addUser(store, 'Example.COM', 'Juliet', 'r0m30myr0m30', { ...ITERATIONS, now: () => 42 });
    expect(added).toEqual({ domain: 'example.com', user: 'juliet' });
    const record = await store.get('example.com', 'juliet');
    expect(Object.keys(record!.scram).sort()).toEqual(['SHA-1', 'SHA-256', 'SHA-512']);
    expect(record!.createdAt).toBe(42);
    expect(JSON.stringify(record)).not.toContain('r0m30myr0m30');
    expect(await verifyPlain(record!, 'r0m30myr0m30')).toBe(true);
  });

  it('fails with ERR_AUTH_USER_EXISTS, also for another spelling of the same name', async () => {
    const store = new MemoryCredentialStore();
    await addUser(store, 'example.com', 'juliet', 'one', ITERATIONS);
    expect(await codeOf(addUser(store, 'example.com', 'juliet', 'two', ITERATIONS))).toBe('ERR_AUTH_USER_EXISTS');
    expect(await codeOf(addUser(store, 'example.com', 'ＪＵＬＩＥＴ', 'two', ITERATIONS))).toBe('ERR_AUTH_USER_EXISTS');
    expect(await verifyPlain((await store.get('example.com', 'juliet'))!, 'one')).toBe(true);
  });

  it('concurrent adds of one name: exactly one wins', async () => {
    const store = new MemoryCredentialStore();
    const results = await Promise.all([1, 2, 3].map((n) => codeOf(addUser(store, 'example.com', 'romeo', `pw${n}`, ITERATIONS))));
    expect(results.filter((r) => r === 'resolved')).toHaveLength(1);
    expect(results.filter((r) => r === 'ERR_AUTH_USER_EXISTS')).toHaveLength(2);
  });

  it('refuses invalid names, domains, passwords and options with stable codes', async () => {
    const store = new MemoryCredentialStore();
    expect(await codeOf(addUser(store, 'example.com', 'ju liet', 'pw', ITERATIONS))).toBe('ERR_AUTH_INVALID_USERNAME');
    expect(await codeOf(addUser(store, 'example.com', 'juliet@example.com', 'pw', ITERATIONS))).toBe('ERR_AUTH_INVALID_USERNAME');
    expect(await codeOf(addUser(store, 'example.com', '', 'pw', ITERATIONS))).toBe('ERR_AUTH_INVALID_USERNAME');
    expect(await codeOf(addUser(store, 'exa mple.com', 'juliet', 'pw', ITERATIONS))).toBe('ERR_AUTH_INVALID_DOMAIN');
    expect(await codeOf(addUser(store, 'example.com', 'juliet', '', ITERATIONS))).toBe('ERR_AUTH_INVALID_PASSWORD');
    expect(await codeOf(addUser(store, 'example.com', 'juliet', 'bell\u0007', ITERATIONS))).toBe('ERR_AUTH_INVALID_PASSWORD');
    expect(await codeOf(addUser(store, 'example.com', 'juliet', 'x'.repeat(1025), ITERATIONS))).toBe('ERR_AUTH_INVALID_PASSWORD');
    expect(await codeOf(addUser(store, 'example.com', 'juliet', 'short', { ...ITERATIONS, minPasswordLength: 8 }))).toBe(
      'ERR_AUTH_INVALID_PASSWORD',
    );
    expect(await codeOf(addUser(store, 'example.com', 'juliet', 'pw', { iterations: 10 }))).toBe('ERR_AUTH_INVALID_OPTION');
    expect(store.domains.size).toBe(0);
  });
});

describe('setPassword and setUserDisabled', () => {
  it('replaces the credentials with new salts and keeps createdAt and the disabled flag', async () => {
    const store = new MemoryCredentialStore();
    await addUser(store, 'example.com', 'juliet', 'old', { ...ITERATIONS, now: () => 1 });
    await setUserDisabled(store, 'example.com', 'juliet', true, { now: () => 2 });
    const before = (await store.get('example.com', 'juliet'))!;
    await setPassword(store, 'example.com', 'JULIET', 'new', { ...ITERATIONS, now: () => 3 });
    const after = (await store.get('example.com', 'juliet'))!;
    expect(after.createdAt).toBe(1);
    expect(after.updatedAt).toBe(3);
    expect(after.disabled).toBe(true);
    expect(after.scram['SHA-256']!.salt).not.toBe(before.scram['SHA-256']!.salt);
    expect(await verifyPlain(after, 'new')).toBe(true);
    expect(await verifyPlain(after, 'old')).toBe(false);
    await setUserDisabled(store, 'example.com', 'juliet', false);
    expect((await store.get('example.com', 'juliet'))!.disabled).toBeUndefined();
  });

  it('fails with ERR_AUTH_USER_NOT_FOUND for a missing user', async () => {
    const store = new MemoryCredentialStore();
    expect(await codeOf(setPassword(store, 'example.com', 'ghost', 'pw', ITERATIONS))).toBe('ERR_AUTH_USER_NOT_FOUND');
    expect(await codeOf(setUserDisabled(store, 'example.com', 'ghost', true))).toBe('ERR_AUTH_USER_NOT_FOUND');
    expect(store.domains.size).toBe(0);
  });
});

describe('deleteUser and listUsers', () => {
  it('deletes once, then reports not found', async () => {
    const store = new MemoryCredentialStore();
    await addUser(store, 'example.com', 'juliet', 'pw', ITERATIONS);
    await deleteUser(store, 'example.com', 'Juliet');
    expect(await store.get('example.com', 'juliet')).toBeUndefined();
    expect(await codeOf(deleteUser(store, 'example.com', 'juliet'))).toBe('ERR_AUTH_USER_NOT_FOUND');
  });

  it('pages through a domain with the store cursor', async () => {
    const store = new MemoryCredentialStore();
    const names = ['alice', 'bob', 'carol', 'dave', 'eve'];
    for (const name of names) await addUser(store, 'example.com', name, 'pw', ITERATIONS);
    await addUser(store, 'example.org', 'mallory', 'pw', ITERATIONS);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listUsers(store, 'EXAMPLE.com', cursor === undefined ? { limit: 2 } : { limit: 2, cursor });
      expect(page.users.length).toBeLessThanOrEqual(2);
      seen.push(...page.users);
      cursor = page.cursor;
    } while (cursor !== undefined);
    expect(seen).toEqual(names);
    expect(await codeOf(listUsers(store, 'example.com', { limit: 0 }))).toBe('ERR_AUTH_INVALID_OPTION');
    expect(await codeOf(listUsers(store, 'example.com', { limit: 1001 }))).toBe('ERR_AUTH_INVALID_OPTION');
  });
});

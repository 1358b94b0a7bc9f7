// User management: the functions `ambrosia user add|passwd|del|list` call. Credentials are
// SCRAM records for every hash (never the password), written through the injected store.

import {
  isSaslError,
  makeScramCredentials,
  type CredentialRecord,
  type MakeScramCredentialsOptions,
  type ScramHash,
} from '@ambrosia/sasl';
import { AuthError } from './errors.js';
import { normalizeDomain, normalizeUsername } from './normalize.js';
import type { CredentialStore } from './types.js';

/** Longest password accepted, in characters: far above any passphrase, bounded for PBKDF2 input. */
export const MAX_PASSWORD_LENGTH = 1024;
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;

export interface PasswordOptions {
  /** PBKDF2 iterations (default @ambrosia/sasl DEFAULT_ITERATIONS). */
  iterations?: number;
  /** Hashes to make credentials for (default all: SCRAM-SHA-1, -256, -512). */
  hashes?: readonly ScramHash[];
  /** Minimum length in characters after SASLprep (default 1). */
  minPasswordLength?: number;
  now?: () => number;
}

async function credentialsFor(password: string, opts: PasswordOptions): Promise<CredentialRecord> {
  const minLength = opts.minPasswordLength ?? 1;
  if (!Number.isSafeInteger(minLength) || minLength < 1 || minLength > MAX_PASSWORD_LENGTH) {
    throw new AuthError('ERR_AUTH_INVALID_OPTION', `minPasswordLength must be an integer in [1, ${MAX_PASSWORD_LENGTH}]`);
  }
  if (typeof password !== 'string' || password.length > MAX_PASSWORD_LENGTH) {
    throw new AuthError('ERR_AUTH_INVALID_PASSWORD', `password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  if ([...password].length < minLength) {
    throw new AuthError('ERR_AUTH_INVALID_PASSWORD', `password must be at least ${minLength} characters`);
  }
  const options: MakeScramCredentialsOptions = {};
  if (opts.iterations !== undefined) options.iterations = opts.iterations;
  if (opts.hashes !== undefined) options.hashes = opts.hashes;
  if (opts.now !== undefined) options.now = opts.now;
  try {
    return await makeScramCredentials(password, options);
  } catch (error) {
    if (isSaslError(error)) {
      const code = error.code === 'ERR_SASL_INVALID_PASSWORD' ? 'ERR_AUTH_INVALID_PASSWORD' : 'ERR_AUTH_INVALID_OPTION';
      throw new AuthError(code, error.message, { cause: error });
    }
    throw error;
  }
}

/**
 * Create an account. Fails with ERR_AUTH_USER_EXISTS if the (normalised) user exists: the store
 * writes only if absent, so two concurrent adds cannot both succeed.
 * Resolves the canonical username.
 */
export async function addUser(
  store: CredentialStore,
  domain: string,
  user: string,
  password: string,
  opts: PasswordOptions = {},
): Promise<{ domain: string; user: string }> {
  const canonicalDomain = normalizeDomain(domain);
  const canonicalUser = normalizeUsername(user);
  const record = await credentialsFor(password, opts);
  const written = await store.put(canonicalDomain, canonicalUser, record, { onlyIfAbsent: true });
  if (!written) throw new AuthError('ERR_AUTH_USER_EXISTS', 'user already exists');
  return { domain: canonicalDomain, user: canonicalUser };
}

/**
 * Replace an account's password (new salts for every hash). Keeps createdAt and the disabled
 * flag. Fails with ERR_AUTH_USER_NOT_FOUND. Not atomic against a concurrent delete: the store
 * contract has no compare-and-set, so a delete racing this call may be undone.
 */
export async function setPassword(
  store: CredentialStore,
  domain: string,
  user: string,
  password: string,
  opts: PasswordOptions = {},
): Promise<void> {
  const canonicalDomain = normalizeDomain(domain);
  const canonicalUser = normalizeUsername(user);
  const existing = await store.get(canonicalDomain, canonicalUser);
  if (!existing) throw new AuthError('ERR_AUTH_USER_NOT_FOUND', 'no such user');
  const record = await credentialsFor(password, opts);
  record.createdAt = existing.createdAt;
  if (existing.disabled === true) record.disabled = true;
  await store.put(canonicalDomain, canonicalUser, record);
}

/** Disable or re-enable an account; a disabled one fails SASL with account-disabled. */
export async function setUserDisabled(
  store: CredentialStore,
  domain: string,
  user: string,
  disabled: boolean,
  opts: { now?: () => number } = {},
): Promise<void> {
  const canonicalDomain = normalizeDomain(domain);
  const canonicalUser = normalizeUsername(user);
  const existing = await store.get(canonicalDomain, canonicalUser);
  if (!existing) throw new AuthError('ERR_AUTH_USER_NOT_FOUND', 'no such user');
  const record: CredentialRecord = { ...existing, updatedAt: (opts.now ?? Date.now)() };
  if (disabled) record.disabled = true;
  else delete record.disabled;
  await store.put(canonicalDomain, canonicalUser, record);
}

/** Delete an account; ERR_AUTH_USER_NOT_FOUND if there was none. */
export async function deleteUser(store: CredentialStore, domain: string, user: string): Promise<void> {
  const deleted = await store.delete(normalizeDomain(domain), normalizeUsername(user));
  if (!deleted) throw new AuthError('ERR_AUTH_USER_NOT_FOUND', 'no such user');
}

/** One page of a domain's users; pass the returned cursor back for the next page. */
export async function listUsers(
  store: CredentialStore,
  domain: string,
  opts: { cursor?: string; limit?: number } = {},
): Promise<{ users: string[]; cursor?: string }> {
  const limit = opts.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new AuthError('ERR_AUTH_INVALID_OPTION', `limit must be an integer in [1, ${MAX_LIST_LIMIT}]`);
  }
  const query: { cursor?: string; limit: number } = { limit };
  if (opts.cursor !== undefined) query.cursor = opts.cursor;
  return store.list(normalizeDomain(domain), query);
}

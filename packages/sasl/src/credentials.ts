// SCRAM credential records (RFC 5802 §3): made from a password for every hash at once, checked
// against a PLAIN password, and decoys for unknown users (RFC 5802 §9).

import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { SaslError } from './errors.js';
import { decodeBase64Strict } from './payload.js';
import { saslprepQuery, saslprepStored } from './saslprep.js';
import { SCRAM_HASHES, type CredentialRecord, type ScramCredential, type ScramHash } from './types.js';

const pbkdf2Async = promisify(pbkdf2);

export interface HashParameters {
  /** node:crypto digest name */
  digest: 'sha1' | 'sha256' | 'sha512';
  /** output length in bytes */
  length: number;
}

export const HASH_PARAMETERS: Readonly<Record<ScramHash, HashParameters>> = {
  'SHA-1': { digest: 'sha1', length: 20 },
  'SHA-256': { digest: 'sha256', length: 32 },
  'SHA-512': { digest: 'sha512', length: 64 },
};

/**
 * Default iteration count for new credentials. RFC 5802 §5.1 and RFC 7677 §4 ask for at least
 * 4096; 10000 keeps a phone's login under a few tens of milliseconds while multiplying an
 * offline attacker's cost. Clients cache SaltedPassword, so this is paid once per password.
 */
export const DEFAULT_ITERATIONS = 10_000;
/** RFC 5802 §5.1: "at least 4096". */
export const MIN_ITERATIONS = 4096;
/**
 * Upper bound for stored records. A PLAIN check runs PBKDF2 with the record's count, so a
 * corrupt or hostile record could otherwise pin a CPU; records above it fail verification.
 */
export const MAX_ITERATIONS = 1_000_000;
/** Salt length for new credentials (128 bits). */
export const SALT_BYTES = 16;

export interface MakeScramCredentialsOptions {
  /** default DEFAULT_ITERATIONS; must be within [MIN_ITERATIONS, MAX_ITERATIONS] */
  iterations?: number;
  /** default: every hash */
  hashes?: readonly ScramHash[];
  /** Fixed salt for every hash. Only for test vectors and migrations: default is random per hash. */
  salt?: Buffer;
  /** Clock for createdAt/updatedAt (ms since epoch). */
  now?: () => number;
}

/**
 * Prepare a password for storage with SASLprep as a stored string (RFC 4013, RFC 5802 §2.2).
 * Throws ERR_SASL_INVALID_PASSWORD if it is empty, contains prohibited characters or unassigned
 * code points.
 */
export function preparePasswordForStorage(password: string): string {
  const prepared = saslprepStored(password);
  if (prepared === undefined) {
    throw new SaslError('ERR_SASL_INVALID_PASSWORD', 'password is empty or not allowed by SASLprep');
  }
  return prepared;
}

/** SaltedPassword := Hi(Normalize(password), salt, i), which is PBKDF2 with one block (RFC 5802 §2.2). */
export async function saltedPassword(
  hash: ScramHash,
  preparedPassword: string,
  salt: Buffer,
  iterations: number,
): Promise<Buffer> {
  const { digest, length } = HASH_PARAMETERS[hash];
  return pbkdf2Async(Buffer.from(preparedPassword, 'utf8'), salt, iterations, length, digest);
}

export function hmac(hash: ScramHash, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(HASH_PARAMETERS[hash].digest, key).update(data).digest();
}

export function digest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(HASH_PARAMETERS[hash].digest).update(data).digest();
}

/** StoredKey and ServerKey from SaltedPassword (RFC 5802 §3). */
export function keysFromSaltedPassword(hash: ScramHash, salted: Buffer): { storedKey: Buffer; serverKey: Buffer } {
  const clientKey = hmac(hash, salted, 'Client Key');
  return { storedKey: digest(hash, clientKey), serverKey: hmac(hash, salted, 'Server Key') };
}

function checkIterations(iterations: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new SaslError(
      'ERR_SASL_INVALID_ITERATIONS',
      `iterations must be an integer in [${MIN_ITERATIONS}, ${MAX_ITERATIONS}]`,
    );
  }
}

/**
 * Make SCRAM credentials for every requested hash from one password. The password goes through
 * SASLprep first; the result never contains it.
 */
export async function makeScramCredentials(
  password: string,
  opts: MakeScramCredentialsOptions = {},
): Promise<CredentialRecord> {
  const iterations = opts.iterations ?? DEFAULT_ITERATIONS;
  checkIterations(iterations);
  const hashes = opts.hashes ?? SCRAM_HASHES;
  if (hashes.length === 0 || hashes.some((h) => !SCRAM_HASHES.includes(h))) {
    throw new SaslError('ERR_SASL_INVALID_HASHES', `hashes must be a non-empty subset of ${SCRAM_HASHES.join(', ')}`);
  }
  if (opts.salt !== undefined && opts.salt.length < 8) {
    throw new SaslError('ERR_SASL_INVALID_OPTION', 'salt must be at least 8 bytes');
  }
  const prepared = preparePasswordForStorage(password);
  const scram: Partial<Record<ScramHash, ScramCredential>> = {};
  await Promise.all(
    [...new Set(hashes)].map(async (hash) => {
      const salt = opts.salt ?? randomBytes(SALT_BYTES);
      const salted = await saltedPassword(hash, prepared, salt, iterations);
      const { storedKey, serverKey } = keysFromSaltedPassword(hash, salted);
      scram[hash] = {
        salt: salt.toString('base64'),
        iterations,
        storedKey: storedKey.toString('base64'),
        serverKey: serverKey.toString('base64'),
      };
    }),
  );
  const now = (opts.now ?? Date.now)();
  return { scram, createdAt: now, updatedAt: now };
}

/** A stored credential decoded and checked; undefined if the stored data is unusable. */
export interface DecodedCredential {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

export function decodeCredential(hash: ScramHash, credential: ScramCredential | undefined): DecodedCredential | undefined {
  if (credential === undefined || credential === null || typeof credential !== 'object') return undefined;
  const { salt, iterations, storedKey, serverKey } = credential;
  if (typeof salt !== 'string' || typeof storedKey !== 'string' || typeof serverKey !== 'string') return undefined;
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) return undefined;
  const decoded = {
    salt: decodeBase64Strict(salt),
    storedKey: decodeBase64Strict(storedKey),
    serverKey: decodeBase64Strict(serverKey),
  };
  const { length } = HASH_PARAMETERS[hash];
  if (!decoded.salt || !decoded.storedKey || !decoded.serverKey) return undefined;
  if (decoded.salt.length === 0 || decoded.storedKey.length !== length || decoded.serverKey.length !== length) {
    return undefined;
  }
  return { salt: decoded.salt, iterations, storedKey: decoded.storedKey, serverKey: decoded.serverKey };
}

/** Constant-time comparison that also hides the length of `a` relative to `b`. */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) {
    // Still spend a comparison so the early exit costs the same as a mismatch.
    timingSafeEqual(b, b);
    return false;
  }
  return timingSafeEqual(a, b);
}

/** Order in which verifyPlain picks the credential to check a password against. */
const PLAIN_PREFERENCE: readonly ScramHash[] = ['SHA-256', 'SHA-512', 'SHA-1'];

/** The credential verifyPlain uses for a record, or undefined if it has none usable. */
export function plainVerificationCredential(
  record: CredentialRecord,
): { hash: ScramHash; credential: DecodedCredential } | undefined {
  for (const hash of PLAIN_PREFERENCE) {
    const credential = decodeCredential(hash, record.scram?.[hash]);
    if (credential) return { hash, credential };
  }
  return undefined;
}

/**
 * Check a PLAIN password against a stored SCRAM record: derive StoredKey with the record's salt
 * and iteration count and compare in constant time. A password SASLprep refuses, or a record
 * without usable credentials, still costs a full derivation and then fails.
 */
export async function verifyPlain(record: CredentialRecord, password: string): Promise<boolean> {
  const chosen = plainVerificationCredential(record);
  const prepared = saslprepQuery(password);
  const hash = chosen?.hash ?? 'SHA-256';
  const credential = chosen?.credential ?? {
    salt: randomBytes(SALT_BYTES),
    iterations: DEFAULT_ITERATIONS,
    storedKey: Buffer.alloc(HASH_PARAMETERS[hash].length),
    serverKey: Buffer.alloc(HASH_PARAMETERS[hash].length),
  };
  const salted = await saltedPassword(hash, prepared ?? password, credential.salt, credential.iterations);
  const { storedKey } = keysFromSaltedPassword(hash, salted);
  const matches = constantTimeEqual(storedKey, credential.storedKey);
  return matches && chosen !== undefined && prepared !== undefined;
}

/**
 * A decoy credential for a username with no account (RFC 5802 §9): the salt is derived from a
 * server secret and the username, so repeated attempts see the same salt (as for a real account)
 * and every gateway sharing the secret answers identically. The keys are random-looking values
 * nobody can produce a proof for; the exchange also fails explicitly when it used a decoy.
 */
export function makeDecoyCredential(
  secret: Buffer,
  username: string,
  hash: ScramHash,
  iterations: number,
): DecodedCredential {
  const derive = (purpose: string, length: number): Buffer =>
    createHmac('sha512', secret).update(`ambrosia-scram-decoy\0${purpose}\0${hash}\0${username}`).digest().subarray(0, length);
  const { length } = HASH_PARAMETERS[hash];
  return {
    salt: derive('salt', SALT_BYTES),
    iterations,
    storedKey: derive('stored-key', length),
    serverKey: derive('server-key', length),
  };
}

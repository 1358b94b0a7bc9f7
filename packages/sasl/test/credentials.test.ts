// Credential records: one password → every hash, PLAIN checks against them, SASLprep, decoys.

import { describe, expect, it } from 'vitest';
import {
  decodeCredential,
  DEFAULT_ITERATIONS,
  isSaslError,
  makeDecoyCredential,
  makeScramCredentials,
  verifyPlain,
  type CredentialRecord,
} from '../src/index.js';

describe('makeScramCredentials', () => {
  it('makes one credential per hash with its own salt, at the default iteration count', async () => {
    const record = await makeScramCredentials('pencil', { now: () => 1234 });
    expect(Object.keys(record.scram).sort()).toEqual(['SHA-1', 'SHA-256', 'SHA-512']);
    expect(record.createdAt).toBe(1234);
    expect(record.updatedAt).toBe(1234);
    const salts = new Set(Object.values(record.scram).map((c) => c!.salt));
    expect(salts.size).toBe(3);
    for (const [hash, credential] of Object.entries(record.scram)) {
      expect(credential!.iterations).toBe(DEFAULT_ITERATIONS);
      expect(decodeCredential(hash as 'SHA-1', credential)).toBeDefined();
    }
    expect(JSON.stringify(record)).not.toContain('pencil');
  });

  it('honours hashes and iterations, and refuses bad ones with stable codes', async () => {
    const record = await makeScramCredentials('pencil', { hashes: ['SHA-256'], iterations: 5000 });
    expect(Object.keys(record.scram)).toEqual(['SHA-256']);
    expect(record.scram['SHA-256']!.iterations).toBe(5000);
    const code = async (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (isSaslError(e) ? e.code : 'other'));
    expect(await code(makeScramCredentials('pencil', { iterations: 100 }))).toBe('ERR_SASL_INVALID_ITERATIONS');
    expect(await code(makeScramCredentials('pencil', { iterations: 4096.5 }))).toBe('ERR_SASL_INVALID_ITERATIONS');
    expect(await code(makeScramCredentials('pencil', { hashes: [] }))).toBe('ERR_SASL_INVALID_HASHES');
    expect(await code(makeScramCredentials('pencil', { hashes: ['MD5' as never] }))).toBe('ERR_SASL_INVALID_HASHES');
  });

  it('prepares the password with SASLprep and refuses what it prohibits', async () => {
    const record = await makeScramCredentials('I\u00ADX', { iterations: 4096 }); // soft hyphen maps to nothing
    expect(await verifyPlain(record, 'IX')).toBe(true);
    expect(await verifyPlain(record, '\u2168')).toBe(true); // ROMAN NUMERAL NINE → "IX" under NFKC
    const code = async (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (isSaslError(e) ? e.code : 'other'));
    expect(await code(makeScramCredentials(''))).toBe('ERR_SASL_INVALID_PASSWORD');
    expect(await code(makeScramCredentials('\u00AD'))).toBe('ERR_SASL_INVALID_PASSWORD');
    expect(await code(makeScramCredentials('bell\u0007'))).toBe('ERR_SASL_INVALID_PASSWORD');
  });
});

describe('verifyPlain', () => {
  it('accepts the password and nothing else, with any single-hash record', async () => {
    for (const hash of ['SHA-1', 'SHA-256', 'SHA-512'] as const) {
      const record = await makeScramCredentials('correct horse', { hashes: [hash], iterations: 4096 });
      expect(await verifyPlain(record, 'correct horse')).toBe(true);
      expect(await verifyPlain(record, 'correct horsf')).toBe(false);
      expect(await verifyPlain(record, '')).toBe(false);
    }
  });

  it('fails (after the same work) for records without usable credentials', async () => {
    const empty: CredentialRecord = { scram: {}, createdAt: 0, updatedAt: 0 };
    expect(await verifyPlain(empty, 'x')).toBe(false);
    const corrupt: CredentialRecord = {
      scram: { 'SHA-256': { salt: '!!', iterations: 4096, storedKey: 'AA==', serverKey: 'AA==' } },
      createdAt: 0,
      updatedAt: 0,
    };
    expect(await verifyPlain(corrupt, 'x')).toBe(false);
    const hostile = await makeScramCredentials('x', { hashes: ['SHA-256'], iterations: 4096 });
    hostile.scram['SHA-256']!.iterations = 1e12; // would pin a CPU if honoured
    expect(await verifyPlain(hostile, 'x')).toBe(false);
  });
});

describe('makeDecoyCredential', () => {
  it('is deterministic per secret, username and hash, and shaped like a real credential', () => {
    const secret = Buffer.alloc(32, 1);
    const a = makeDecoyCredential(secret, 'ghost', 'SHA-256', 4096);
    expect(makeDecoyCredential(secret, 'ghost', 'SHA-256', 4096)).toEqual(a);
    expect(makeDecoyCredential(secret, 'ghost2', 'SHA-256', 4096).salt.equals(a.salt)).toBe(false);
    expect(makeDecoyCredential(Buffer.alloc(32, 2), 'ghost', 'SHA-256', 4096).salt.equals(a.salt)).toBe(false);
    expect(a.salt).toHaveLength(16);
    expect(a.storedKey).toHaveLength(32);
    expect(makeDecoyCredential(secret, 'ghost', 'SHA-512', 4096).serverKey).toHaveLength(64);
  });
});

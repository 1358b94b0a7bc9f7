// Test fixtures: an account table behind a real lookup function, a context builder, a small
// SCRAM client written straight from RFC 5802 §3 (used to build deliberately broken messages;
// the independent clients live in clients.test.ts), and certificates made with the openssl CLI.

import { execFileSync } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  makeScramCredentials,
  SaslServer,
  type CredentialLookup,
  type CredentialRecord,
  type SaslContext,
  type SaslServerOptions,
  type SaslStep,
  type ScramHash,
} from '../src/index.js';

export const TEST_ITERATIONS = 4096;

export async function accountTable(
  entries: Record<string, string | { password: string; disabled?: boolean; hashes?: ScramHash[] }>,
): Promise<Map<string, CredentialRecord>> {
  const table = new Map<string, CredentialRecord>();
  for (const [username, entry] of Object.entries(entries)) {
    const spec = typeof entry === 'string' ? { password: entry } : entry;
    const record = await makeScramCredentials(spec.password, {
      iterations: TEST_ITERATIONS,
      ...(spec.hashes ? { hashes: spec.hashes } : {}),
    });
    if (spec.disabled) record.disabled = true;
    table.set(username, record);
  }
  return table;
}

export function lookupIn(table: Map<string, CredentialRecord>): (username: string) => Promise<CredentialLookup> {
  return async (username) => {
    const record = table.get(username);
    return record ? { kind: 'found', username, record } : { kind: 'unknown' };
  };
}

export function context(overrides: Partial<SaslContext> & Pick<SaslContext, 'lookup'>): SaslContext {
  const secure = overrides.secure ?? true;
  const channelBindings = overrides.channelBindings ?? {};
  const server = new SaslServer({ allowAnonymous: true, mechanisms: ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-512-PLUS', 'PLAIN', 'EXTERNAL'] });
  const offeredMechanisms =
    overrides.offeredMechanisms ??
    server.offeredMechanisms({
      secure,
      channelBindingTypes: Object.keys(channelBindings),
      hasClientCert: overrides.peerCertificate !== undefined,
    });
  return { domain: 'example.com', ...overrides, secure, channelBindings, offeredMechanisms };
}

export function serverFor(opts: SaslServerOptions = {}): SaslServer {
  return new SaslServer({ decoyIterations: TEST_ITERATIONS, ...opts });
}

export function expectFailure(step: SaslStep): Extract<SaslStep, { kind: 'failure' }> {
  if (step.kind !== 'failure') throw new Error(`expected a failure, got ${step.kind}`);
  return step;
}

export function expectChallenge(step: SaslStep): Buffer {
  if (step.kind !== 'challenge') {
    throw new Error(`expected a challenge, got ${step.kind}${step.kind === 'failure' ? ` (${step.condition}: ${step.text})` : ''}`);
  }
  return step.data;
}

export function expectSuccess(step: SaslStep): Extract<SaslStep, { kind: 'success' }> {
  if (step.kind !== 'success') {
    throw new Error(`expected success, got ${step.kind}${step.kind === 'failure' ? ` (${step.condition}: ${step.text})` : ''}`);
  }
  return step;
}

const DIGEST: Record<ScramHash, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-512': 'sha512' };

export type ClientBinding = { flag: 'n' } | { flag: 'y' } | { flag: 'p'; type: string; data: Buffer };

/** A SCRAM client per RFC 5802 §3, with hooks to break each message on purpose. */
export class TestScramClient {
  readonly hash: ScramHash;
  readonly username: string;
  readonly password: string;
  readonly authzid: string | undefined;
  readonly binding: ClientBinding;
  readonly clientNonce: string;
  private gs2Header = '';
  private bare = '';
  private serverSignature: Buffer | undefined;

  constructor(opts: {
    hash: ScramHash;
    username: string;
    password: string;
    authzid?: string;
    binding?: ClientBinding;
    clientNonce?: string;
  }) {
    this.hash = opts.hash;
    this.username = opts.username;
    this.password = opts.password;
    this.authzid = opts.authzid;
    this.binding = opts.binding ?? { flag: 'n' };
    this.clientNonce = opts.clientNonce ?? randomBytes(12).toString('base64');
  }

  static saslname(value: string): string {
    return value.replace(/=/g, '=3D').replace(/,/g, '=2C');
  }

  first(): Buffer {
    const flag = this.binding.flag === 'p' ? `p=${this.binding.type}` : this.binding.flag;
    this.gs2Header = `${flag},${this.authzid === undefined ? '' : `a=${TestScramClient.saslname(this.authzid)}`},`;
    this.bare = `n=${TestScramClient.saslname(this.username)},r=${this.clientNonce}`;
    return Buffer.from(this.gs2Header + this.bare);
  }

  /** The client-final-message; `tamper` edits the fields before the proof is computed. */
  final(
    serverFirst: Buffer,
    tamper: { nonce?: (n: string) => string; channelBinding?: (c: Buffer) => Buffer; password?: string } = {},
  ): Buffer {
    const text = serverFirst.toString('utf8');
    const attrs = new Map(text.split(',').map((a) => [a.slice(0, 1), a.slice(2)] as const));
    const nonce = attrs.get('r') ?? '';
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
    const iterations = Number(attrs.get('i'));
    const digest = DIGEST[this.hash];
    const length = createHash(digest).digest().length;
    const salted = pbkdf2Sync(tamper.password ?? this.password, salt, iterations, length, digest);
    const clientKey = createHmac(digest, salted).update('Client Key').digest();
    const storedKey = createHash(digest).update(clientKey).digest();
    let cbind: Buffer = Buffer.from(this.gs2Header);
    if (this.binding.flag === 'p') cbind = Buffer.concat([cbind, this.binding.data]);
    if (tamper.channelBinding) cbind = tamper.channelBinding(cbind);
    const withoutProof = `c=${cbind.toString('base64')},r=${tamper.nonce ? tamper.nonce(nonce) : nonce}`;
    const authMessage = `${this.bare},${text},${withoutProof}`;
    const signature = createHmac(digest, storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    const serverKey = createHmac(digest, salted).update('Server Key').digest();
    this.serverSignature = createHmac(digest, serverKey).update(authMessage).digest();
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
  }

  verifyServerFinal(data: Buffer | undefined): boolean {
    return data !== undefined && this.serverSignature !== undefined && data.toString() === `v=${this.serverSignature.toString('base64')}`;
  }
}

/** Run a full SCRAM exchange with the test client; returns the final step. */
export async function scramExchange(
  server: SaslServer,
  mechanism: string,
  client: TestScramClient,
  ctx: SaslContext,
): Promise<SaslStep> {
  const challenge = await server.start(mechanism, client.first(), ctx);
  if (challenge.kind !== 'challenge') return challenge;
  return server.step(client.final(challenge.data));
}

export interface TestCertificate {
  key: Buffer;
  cert: Buffer;
  der: Buffer;
}

/**
 * A self-signed certificate from the openssl CLI. `san` uses openssl's subjectAltName syntax, e.g.
 * `DNS:example.com,otherName:1.3.6.1.5.5.7.8.5;UTF8:juliet@example.com`.
 */
export function makeCertificate(opts: { san?: string; key?: 'ec' | 'rsa' | 'rsa-pss' | 'ed25519'; digest?: string } = {}): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'ambrosia-sasl-cert-'));
  try {
    const keyArgs: Record<string, string[]> = {
      ec: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      rsa: ['-newkey', 'rsa:1024'],
      'rsa-pss': ['-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:1024'],
      ed25519: ['-newkey', 'ed25519'],
    };
    const args = [
      'req', '-x509', ...keyArgs[opts.key ?? 'ec']!, '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '2', '-subj', '/CN=not-an-identity.invalid',
    ];
    if (opts.digest) args.push(`-${opts.digest}`);
    if (opts.san) args.push('-addext', `subjectAltName=${opts.san}`);
    execFileSync('openssl', args, { stdio: 'pipe' });
    execFileSync('openssl', ['x509', '-in', join(dir, 'cert.pem'), '-outform', 'DER', '-out', join(dir, 'cert.der')], { stdio: 'pipe' });
    return {
      key: readFileSync(join(dir, 'key.pem')),
      cert: readFileSync(join(dir, 'cert.pem')),
      der: readFileSync(join(dir, 'cert.der')),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

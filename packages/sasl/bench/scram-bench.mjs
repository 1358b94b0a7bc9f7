// Server-side SASL verification throughput, measured against the BUILT package (run
// `npx tsc -p packages/sasl/tsconfig.build.json` first; the root `npm run bench` builds).
//
// - SCRAM-SHA-1/256/512: one full server-side exchange per operation (new SaslServer,
//   client-first → server-first, client-final → proof check → server-final). The client side is
//   precomputed once: a fixed server nonce makes every exchange's messages identical, so only
//   the server's work is timed.
// - PLAIN: verifyPlain against a SCRAM-SHA-256 record at the default iteration count, one at a
//   time (PBKDF2 bound; runs on the libuv thread pool).

import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ITERATIONS, makeScramCredentials, SaslServer, verifyPlain } from '../dist/index.js';

const DIGESTS = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-512': 'sha512' };
const PASSWORD = 'correct horse battery staple';
const SERVER_NONCE = 'fixed-server-nonce-for-benchmarks';
const CLIENT_FIRST_BARE = 'n=bench,r=fixed-client-nonce';

async function timed(durationMs, operation) {
  // Warm up (JIT, first allocations) before measuring.
  for (let i = 0; i < 200; i++) await operation();
  let count = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(durationMs) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    await operation();
    count++;
    now = process.hrtime.bigint();
  }
  return count / (Number(now - start) / 1e9);
}

function clientFinalFor(hash, credential, serverFirst) {
  const digest = DIGESTS[hash];
  const salt = Buffer.from(credential.salt, 'base64');
  const length = createHash(digest).digest().length;
  const salted = pbkdf2Sync(PASSWORD, salt, credential.iterations, length, digest);
  const clientKey = createHmac(digest, salted).update('Client Key').digest();
  const storedKey = createHash(digest).update(clientKey).digest();
  const withoutProof = `c=biws,r=${serverFirst.split(',')[0].slice(2)}`;
  const signature = createHmac(digest, storedKey).update(`${CLIENT_FIRST_BARE},${serverFirst},${withoutProof}`).digest();
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i] ^ signature[i];
  return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
}

export async function run({ durationMs = 1000 } = {}) {
  const record = await makeScramCredentials(PASSWORD);
  const lookupResult = { kind: 'found', username: 'bench', record };
  const results = [];
  for (const hash of ['SHA-1', 'SHA-256', 'SHA-512']) {
    const mechanism = `SCRAM-${hash}`;
    const ctx = {
      secure: true,
      channelBindings: {},
      offeredMechanisms: [mechanism],
      lookup: async () => lookupResult,
    };
    const clientFirst = Buffer.from(`n,,${CLIENT_FIRST_BARE}`);
    const options = { nonce: () => SERVER_NONCE, mechanisms: [mechanism] };
    const probe = await new SaslServer(options).start(mechanism, clientFirst, ctx);
    if (probe.kind !== 'challenge') throw new Error(`unexpected ${probe.kind}`);
    const clientFinal = clientFinalFor(hash, record.scram[hash], probe.data.toString());
    const rate = await timed(durationMs, async () => {
      const server = new SaslServer(options);
      await server.start(mechanism, clientFirst, ctx);
      const step = await server.step(clientFinal);
      if (step.kind !== 'success') throw new Error(`exchange failed: ${step.condition}`);
    });
    results.push({ name: `sasl.scram-${hash.toLowerCase()}.server-verifications`, value: Math.round(rate), unit: 'ops/s' });
  }
  const plainRate = await timed(durationMs, async () => {
    if (!(await verifyPlain(record, PASSWORD))) throw new Error('PLAIN verification failed');
  });
  results.push({
    name: `sasl.plain.verifications-at-${DEFAULT_ITERATIONS}-iterations`,
    value: Math.round(plainRate * 10) / 10,
    unit: 'ops/s',
  });
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const { name, value, unit } of await run()) console.log(`${name}: ${value} ${unit}`);
}

// Property tests: whatever a client sends, in whatever order, the server answers with a valid
// step and never throws; a mutated SCRAM message never authenticates.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SASL_CONDITIONS, type SaslStep } from '../src/index.js';
import { accountTable, context, lookupIn, serverFor, TestScramClient } from './helpers.js';

const lookup = lookupIn(await accountTable({ juliet: 'r0m30myr0m30', user: 'pencil' }));
const BINDING = Buffer.alloc(32, 5);

function checkStep(step: SaslStep): void {
  expect(['challenge', 'success', 'failure']).toContain(step.kind);
  if (step.kind === 'failure') expect(SASL_CONDITIONS).toContain(step.condition);
  if (step.kind === 'challenge') expect(Buffer.isBuffer(step.data)).toBe(true);
}

const MECHANISMS = [
  'SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-512-PLUS',
  'PLAIN', 'EXTERNAL', 'ANONYMOUS', 'DIGEST-MD5', '',
];

/** Text that looks like SCRAM, so the fuzzer reaches deep into the parsers. */
const scramish = fc
  .array(
    fc.oneof(
      fc.constantFrom('n', 'y', 'p=tls-exporter', 'p=', 'a=', 'n=', 'r=', 'c=', 'p=', 'm=', 's=', 'i=', 'h=', 'biws', '=2C', '=3D', '=', ',', '\0', 'juliet', 'é'),
      fc.string({ maxLength: 8 }),
    ),
    { maxLength: 20 },
  )
  .map((parts) => Buffer.from(parts.join('')));

const payload = fc.oneof(
  fc.constant(undefined),
  scramish,
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
);

const action = fc.oneof(
  fc.record({ kind: fc.constant('start' as const), mechanism: fc.constantFrom(...MECHANISMS), data: payload }),
  fc.record({ kind: fc.constant('step' as const), data: payload }),
  fc.record({ kind: fc.constant('abort' as const) }),
);

describe('fuzzing the server', () => {
  it('any sequence of <auth/>, <response/> and <abort/> yields valid steps and never throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 8 }), fc.boolean(), async (actions, secure) => {
        const server = serverFor({ allowAnonymous: true, mechanisms: ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-512-PLUS', 'PLAIN', 'EXTERNAL'] });
        const ctx = context({
          lookup,
          secure,
          channelBindings: secure ? { 'tls-exporter': BINDING } : {},
          peerCertificate: { authorized: true, identities: { xmppAddrs: ['juliet@example.com'], dnsNames: [], srvNames: [] } },
        });
        for (const a of actions) {
          const step = a.kind === 'start' ? await server.start(a.mechanism, a.data, ctx) : a.kind === 'step' ? await server.step(a.data) : server.abort();
          checkStep(step);
          // Only certificate- and anonymous-based logins can succeed without knowing a password.
          if (step.kind === 'success') expect(['EXTERNAL', 'ANONYMOUS']).toContain(step.identity.mechanism);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('a mutated client-final-message never authenticates', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (position, xor, plus) => {
        const server = serverFor();
        const client = new TestScramClient({
          hash: 'SHA-256',
          username: 'juliet',
          password: 'r0m30myr0m30',
          binding: plus ? { flag: 'p', type: 'tls-exporter', data: BINDING } : { flag: 'n' },
        });
        const ctx = context({ lookup, channelBindings: { 'tls-exporter': BINDING } });
        const mechanism = plus ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256';
        const first = await server.start(mechanism, client.first(), ctx);
        if (plus) expect(first.kind).toBe('challenge');
        if (first.kind !== 'challenge') return; // "n" while -PLUS offered is fine; nothing to mutate
        const final = client.final(first.data);
        const mutated = Buffer.from(final);
        const at = position % mutated.length;
        mutated[at] = mutated[at]! ^ xor;
        const step = await server.step(mutated);
        checkStep(step);
        expect(step.kind).toBe('failure');
      }),
      { numRuns: 300 },
    );
  });

  it('a mutated client-first-message never leads to success', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), async (position, xor) => {
        const server = serverFor();
        const client = new TestScramClient({ hash: 'SHA-1', username: 'juliet', password: 'r0m30myr0m30', clientNonce: 'abcdef' });
        const first = client.first();
        const at = position % first.length;
        const mutated = Buffer.from(first);
        mutated[at] = mutated[at]! ^ xor;
        const ctx = context({ lookup });
        const challenge = await server.start('SCRAM-SHA-1', mutated, ctx);
        checkStep(challenge);
        if (challenge.kind !== 'challenge') return;
        // The client computes its proof over the message it believes it sent.
        const step = await server.step(client.final(challenge.data));
        checkStep(step);
        expect(step.kind).toBe('failure');
      }),
      { numRuns: 300 },
    );
  });
});

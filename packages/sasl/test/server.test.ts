// The SaslServer state machine (RFC 6120 §6.4): offers, mechanism selection, <abort/>, retries,
// concurrent steps and anything arriving after success.

import { describe, expect, it } from 'vitest';
import { SaslServer, type CredentialLookup } from '../src/index.js';
import {
  accountTable,
  context,
  expectChallenge,
  expectFailure,
  expectSuccess,
  lookupIn,
  scramExchange,
  serverFor,
  TestScramClient,
} from './helpers.js';

const table = await accountTable({ juliet: 'r0m30myr0m30' });
const lookup = lookupIn(table);
const juliet = () => new TestScramClient({ hash: 'SHA-256', username: 'juliet', password: 'r0m30myr0m30' });

describe('offered mechanisms', () => {
  it('without TLS: SCRAM only', () => {
    expect(new SaslServer().offeredMechanisms({ secure: false, channelBindingTypes: [], hasClientCert: false })).toEqual([
      'SCRAM-SHA-512',
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
    ]);
  });

  it('with TLS and channel bindings: -PLUS first, PLAIN last; EXTERNAL and ANONYMOUS only when configured', () => {
    const offer = { secure: true, channelBindingTypes: ['tls-exporter'], hasClientCert: true };
    expect(new SaslServer().offeredMechanisms(offer)).toEqual([
      'SCRAM-SHA-512-PLUS',
      'SCRAM-SHA-256-PLUS',
      'SCRAM-SHA-1-PLUS',
      'SCRAM-SHA-512',
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
      'PLAIN',
    ]);
    const configured = new SaslServer({ mechanisms: ['EXTERNAL', 'SCRAM-SHA-256', 'PLAIN'], allowAnonymous: true });
    expect(configured.offeredMechanisms(offer)).toEqual(['EXTERNAL', 'SCRAM-SHA-256', 'PLAIN', 'ANONYMOUS']);
    expect(configured.offeredMechanisms({ ...offer, hasClientCert: false })).toEqual(['SCRAM-SHA-256', 'PLAIN', 'ANONYMOUS']);
  });

  it('rejects unknown mechanisms and unsafe limits in the configuration', () => {
    expect(() => new SaslServer({ mechanisms: ['DIGEST-MD5' as never] })).toThrow(/unknown mechanism/);
    expect(() => new SaslServer({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => new SaslServer({ decoySecret: Buffer.alloc(4) })).toThrow(/decoySecret/);
  });
});

describe('mechanism selection', () => {
  it('invalid-mechanism for unknown, disabled or not offered mechanisms', async () => {
    const ctx = context({ lookup });
    expect(expectFailure(await serverFor().start('DIGEST-MD5', undefined, ctx)).condition).toBe('invalid-mechanism');
    expect(expectFailure(await serverFor().start('ANONYMOUS', undefined, ctx)).condition).toBe('invalid-mechanism');
    const narrow = context({ lookup, offeredMechanisms: ['SCRAM-SHA-256'] });
    expect(expectFailure(await serverFor().start('SCRAM-SHA-1', juliet().first(), narrow)).condition).toBe('invalid-mechanism');
  });
});

describe('exchange state', () => {
  it('<abort/> halfway ends the exchange with aborted; a new one can follow', async () => {
    const server = serverFor();
    const ctx = context({ lookup });
    const client = juliet();
    const serverFirst = expectChallenge(await server.start('SCRAM-SHA-256', client.first(), ctx));
    expect(server.abort()).toEqual({ kind: 'failure', condition: 'aborted' });
    // The old exchange is gone: its final message is no longer accepted.
    expect(expectFailure(await server.step(client.final(serverFirst))).text).toBe('no exchange in progress');
    expectSuccess(await scramExchange(server, 'SCRAM-SHA-256', juliet(), ctx));
  });

  it('<abort/> while a lookup is in flight discards its result', async () => {
    let release: (value: CredentialLookup) => void = () => undefined;
    const pending = new Promise<CredentialLookup>((resolve) => { release = resolve; });
    const server = serverFor();
    const started = server.start('SCRAM-SHA-256', juliet().first(), context({ lookup: () => pending }));
    expect(server.abort().kind).toBe('failure');
    release({ kind: 'unknown' });
    expect(expectFailure(await started).condition).toBe('aborted');
    expectSuccess(await scramExchange(server, 'SCRAM-SHA-256', juliet(), context({ lookup })));
  });

  it('a second <auth/> after success fails and keeps the identity', async () => {
    const server = serverFor();
    const ctx = context({ lookup });
    const done = expectSuccess(await scramExchange(server, 'SCRAM-SHA-256', juliet(), ctx));
    const again = expectFailure(await server.start('SCRAM-SHA-256', juliet().first(), ctx));
    expect(again).toMatchObject({ condition: 'malformed-request', text: 'already authenticated' });
    expect(expectFailure(await server.step(Buffer.from('x'))).text).toBe('already authenticated');
    expect(expectFailure(server.abort()).text).toBe('already authenticated');
    expect(server.identity).toEqual(done.identity);
  });

  it('a second <auth/> during an exchange ends it', async () => {
    const server = serverFor();
    const ctx = context({ lookup });
    expectChallenge(await server.start('SCRAM-SHA-256', juliet().first(), ctx));
    expect(expectFailure(await server.start('SCRAM-SHA-256', juliet().first(), ctx)).text).toBe('exchange already in progress');
    expectSuccess(await scramExchange(server, 'SCRAM-SHA-256', juliet(), ctx));
  });

  it('a <response/> while the previous step is still running is refused', async () => {
    let release: (value: CredentialLookup) => void = () => undefined;
    const pending = new Promise<CredentialLookup>((resolve) => { release = resolve; });
    const server = serverFor();
    const started = server.start('SCRAM-SHA-256', undefined, context({ lookup: () => pending }));
    expectChallenge(await started);
    const first = server.step(juliet().first());
    expect(expectFailure(await server.step(Buffer.from('c=biws'))).text).toBe('exchange step in progress');
    release({ kind: 'unknown' });
    expectChallenge(await first);
  });

  it('a <response/> with no exchange is malformed-request', async () => {
    expect(expectFailure(await serverFor().step(Buffer.from('x'))).condition).toBe('malformed-request');
  });

  it('after the allowed retries every attempt fails and asks for the stream to close (RFC 6120 §6.4.5)', async () => {
    const server = serverFor({ maxAttempts: 3 });
    const ctx = context({ lookup });
    const bad = () => new TestScramClient({ hash: 'SHA-256', username: 'juliet', password: 'wrong' });
    expect(expectFailure(await scramExchange(server, 'SCRAM-SHA-256', bad(), ctx)).retriesExhausted).toBeUndefined();
    expect(server.abort().kind).toBe('failure'); // an abort outside an exchange costs nothing
    expect(expectFailure(await scramExchange(server, 'SCRAM-SHA-256', bad(), ctx)).retriesExhausted).toBeUndefined();
    expect(server.attemptsLeft).toBe(1);
    expect(expectFailure(await scramExchange(server, 'SCRAM-SHA-256', bad(), ctx)).retriesExhausted).toBe(true);
    const after = expectFailure(await scramExchange(server, 'SCRAM-SHA-256', juliet(), ctx));
    expect(after).toMatchObject({ condition: 'temporary-auth-failure', retriesExhausted: true });
  });

  it('an oversized <response/> ends the exchange', async () => {
    const server = serverFor({ maxPayloadBytes: 1024 });
    expectChallenge(await server.start('SCRAM-SHA-256', undefined, context({ lookup })));
    expect(expectFailure(await server.step(Buffer.alloc(1025, 0x61))).text).toBe('payload too large');
    expect(expectFailure(await server.step(Buffer.from('x'))).text).toBe('no exchange in progress');
  });
});

// PLAIN (RFC 4616), EXTERNAL (RFC 4422 App. A, XEP-0178) and ANONYMOUS (RFC 4505).

import { describe, expect, it } from 'vitest';
import { certificateIdentities, type CertificateIdentities, type SaslContext } from '../src/index.js';
import { accountTable, context, expectChallenge, expectFailure, expectSuccess, lookupIn, makeCertificate, serverFor } from './helpers.js';

const table = await accountTable({
  juliet: 'r0m30myr0m30',
  romeo: { password: 'secret', disabled: true },
  nurse: 'Ⅸ-café', // SASLprep maps U+2168 to "IX" (NFKC)
});
const lookup = lookupIn(table);
const plain = (authzid: string, authcid: string, password: string) => Buffer.from(`${authzid}\0${authcid}\0${password}`);

describe('PLAIN', () => {
  it('authenticates against the stored SCRAM record', async () => {
    const done = expectSuccess(await serverFor().start('PLAIN', plain('', 'juliet', 'r0m30myr0m30'), context({ lookup })));
    expect(done.identity).toEqual({ kind: 'user', mechanism: 'PLAIN', username: 'juliet' });
    expect(done.data).toBeUndefined();
  });

  it('applies SASLprep to the password', async () => {
    expectSuccess(await serverFor().start('PLAIN', plain('', 'nurse', 'IX-café'), context({ lookup })));
  });

  it('is refused without TLS with encryption-required, even if a caller offered it', async () => {
    const ctx = context({ lookup, secure: false, offeredMechanisms: ['PLAIN', 'SCRAM-SHA-1'] });
    expect(expectFailure(await serverFor().start('PLAIN', plain('', 'juliet', 'r0m30myr0m30'), ctx)).condition).toBe(
      'encryption-required',
    );
  });

  it('wrong password, unknown user and invalid username all read not-authorized', async () => {
    for (const message of [plain('', 'juliet', 'nope'), plain('', 'nobody', 'nope'), plain('', '\u0007bell', 'nope')]) {
      expect(expectFailure(await serverFor().start('PLAIN', message, context({ lookup })))).toEqual({
        kind: 'failure',
        condition: 'not-authorized',
      });
    }
  });

  it('disabled account: account-disabled only with the right password', async () => {
    expect(expectFailure(await serverFor().start('PLAIN', plain('', 'romeo', 'secret'), context({ lookup }))).condition).toBe(
      'account-disabled',
    );
    expect(expectFailure(await serverFor().start('PLAIN', plain('', 'romeo', 'x'), context({ lookup }))).condition).toBe(
      'not-authorized',
    );
  });

  it('authzid: own bare JID accepted, another refused with invalid-authzid', async () => {
    const ok = expectSuccess(await serverFor().start('PLAIN', plain('juliet@example.com', 'juliet', 'r0m30myr0m30'), context({ lookup })));
    expect(ok.identity.authzid).toBe('juliet@example.com');
    for (const authzid of ['romeo@example.com', 'juliet@example.org', 'juliet@example.com/balcony', 'juliet']) {
      const failure = expectFailure(await serverFor().start('PLAIN', plain(authzid, 'juliet', 'r0m30myr0m30'), context({ lookup })));
      expect(failure.condition).toBe('invalid-authzid');
    }
  });

  const malformed: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['no NUL', Buffer.from('juliet')],
    ['one NUL', Buffer.from('juliet\0pw')],
    ['three NULs', Buffer.from('\0juliet\0pw\0')],
    ['NUL inside the password', Buffer.from('\0juliet\0pa\0ss')],
    ['empty authcid', Buffer.from('\0\0pw')],
    ['empty password', Buffer.from('\0juliet\0')],
    ['invalid UTF-8', Buffer.from([0, 0x6a, 0, 0xff, 0xfe])],
  ];
  for (const [name, message] of malformed) {
    it(`${name} → malformed-request`, async () => {
      expect(expectFailure(await serverFor().start('PLAIN', message, context({ lookup }))).condition).toBe('malformed-request');
    });
  }

  it('takes the message in a <response/> after an empty challenge', async () => {
    const server = serverFor();
    expectChallenge(await server.start('PLAIN', undefined, context({ lookup })));
    expectSuccess(await server.step(plain('', 'juliet', 'r0m30myr0m30')));
  });
});

describe('EXTERNAL', () => {
  const identities = (partial: Partial<CertificateIdentities>): CertificateIdentities => ({
    xmppAddrs: [],
    dnsNames: [],
    srvNames: [],
    ...partial,
  });
  const c2s = (ids: CertificateIdentities, authorized = true, extra: Partial<SaslContext> = {}) =>
    context({ lookup, peerCertificate: { authorized, identities: ids }, ...extra });
  const external = () => serverFor({ mechanisms: ['EXTERNAL', 'SCRAM-SHA-256'] });

  it('c2s: the single xmppAddr of our domain names the account', async () => {
    const ctx = c2s(identities({ xmppAddrs: ['juliet@example.com'], dnsNames: ['juliet.example.net'] }));
    const done = expectSuccess(await external().start('EXTERNAL', Buffer.alloc(0), ctx));
    expect(done.identity).toEqual({ kind: 'user', mechanism: 'EXTERNAL', username: 'juliet' });
  });

  it('c2s: several xmppAddrs need an authzid, which must be one of them', async () => {
    const ctx = c2s(identities({ xmppAddrs: ['juliet@example.com', 'nurse@example.com', 'romeo@example.org'] }));
    expect(expectFailure(await external().start('EXTERNAL', Buffer.alloc(0), ctx)).condition).toBe('invalid-authzid');
    const chosen = expectSuccess(await external().start('EXTERNAL', Buffer.from('nurse@example.com'), ctx));
    expect(chosen.identity.username).toBe('nurse');
    expect(expectFailure(await external().start('EXTERNAL', Buffer.from('romeo@example.org'), ctx)).condition).toBe('invalid-authzid');
  });

  it('c2s: refuses untrusted certificates, certificates naming nobody here, unknown and disabled accounts', async () => {
    const trusted = identities({ xmppAddrs: ['juliet@example.com'] });
    expect(expectFailure(await external().start('EXTERNAL', Buffer.alloc(0), c2s(trusted, false))).condition).toBe('not-authorized');
    const elsewhere = identities({ xmppAddrs: ['juliet@example.org'], dnsNames: ['example.com'] });
    expect(expectFailure(await external().start('EXTERNAL', Buffer.alloc(0), c2s(elsewhere))).condition).toBe('not-authorized');
    const ghost = identities({ xmppAddrs: ['ghost@example.com'] });
    expect(expectFailure(await external().start('EXTERNAL', Buffer.alloc(0), c2s(ghost))).condition).toBe('not-authorized');
    const disabled = identities({ xmppAddrs: ['romeo@example.com'] });
    expect(expectFailure(await external().start('EXTERNAL', Buffer.alloc(0), c2s(disabled))).condition).toBe('account-disabled');
  });

  it('is not offered, and refused, without a client certificate or without TLS', async () => {
    const noCert = context({ lookup });
    expect(expectFailure(await external().start('EXTERNAL', Buffer.alloc(0), noCert)).condition).toBe('invalid-mechanism');
    const clear = c2s(identities({ xmppAddrs: ['juliet@example.com'] }), true, { secure: false });
    expect(expectFailure(await external().start('EXTERNAL', Buffer.alloc(0), clear)).condition).toBe('encryption-required');
  });

  it('s2s: the certificate must name the claimed domain (SRVName, dNSName with wildcard, xmppAddr)', async () => {
    const s2s = (ids: CertificateIdentities, peerDomain: string) =>
      context({ lookup, streamKind: 's2s', peerDomain, peerCertificate: { authorized: true, identities: ids } });
    for (const ids of [
      identities({ srvNames: ['_xmpp-server.Capulet.lit'] }),
      identities({ dnsNames: ['capulet.lit'] }),
      identities({ dnsNames: ['CAPULET.lit.'] }),
      identities({ xmppAddrs: ['capulet.lit'] }),
    ]) {
      const done = expectSuccess(await external().start('EXTERNAL', Buffer.alloc(0), s2s(ids, 'capulet.lit')));
      expect(done.identity).toEqual({ kind: 'server', mechanism: 'EXTERNAL', username: 'capulet.lit' });
    }
    const wildcard = identities({ dnsNames: ['*.capulet.lit'] });
    expectSuccess(await external().start('EXTERNAL', Buffer.from('chat.capulet.lit'), s2s(wildcard, 'chat.capulet.lit')));
    expect(expectFailure(await external().start('EXTERNAL', Buffer.alloc(0), s2s(wildcard, 'a.b.capulet.lit'))).condition).toBe('not-authorized');
    expect(expectFailure(await external().start('EXTERNAL', Buffer.alloc(0), s2s(wildcard, 'capulet.lit'))).condition).toBe('not-authorized');
    const tooWide = identities({ dnsNames: ['*.lit'] });
    expect(expectFailure(await external().start('EXTERNAL', Buffer.alloc(0), s2s(tooWide, 'capulet.lit'))).condition).toBe('not-authorized');
    const other = identities({ dnsNames: ['montague.lit'], srvNames: ['_xmpp-client.capulet.lit'] });
    expect(expectFailure(await external().start('EXTERNAL', Buffer.alloc(0), s2s(other, 'capulet.lit'))).condition).toBe('not-authorized');
    const right = identities({ dnsNames: ['capulet.lit'] });
    expect(expectFailure(await external().start('EXTERNAL', Buffer.from('montague.lit'), s2s(right, 'capulet.lit'))).condition).toBe(
      'invalid-authzid',
    );
  });

  it('works end to end from a real certificate parsed structurally', async () => {
    const cert = makeCertificate({ san: 'DNS:example.com,otherName:1.3.6.1.5.5.7.8.5;UTF8:juliet@example.com' });
    const ids = certificateIdentities(cert.der);
    expect(ids).toEqual({ xmppAddrs: ['juliet@example.com'], dnsNames: ['example.com'], srvNames: [] });
    const done = expectSuccess(await external().start('EXTERNAL', Buffer.alloc(0), c2s(ids!)));
    expect(done.identity.username).toBe('juliet');
  });

  it('NUL in the authzid → malformed-request', async () => {
    const ctx = c2s(identities({ xmppAddrs: ['juliet@example.com'] }));
    expect(expectFailure(await external().start('EXTERNAL', Buffer.from('juliet@example.com\0'), ctx)).condition).toBe(
      'malformed-request',
    );
  });
});

describe('ANONYMOUS', () => {
  it('is off unless configured', async () => {
    const server = serverFor();
    expect(server.offeredMechanisms({ secure: true, channelBindingTypes: [], hasClientCert: false })).not.toContain('ANONYMOUS');
    expect(expectFailure(await server.start('ANONYMOUS', Buffer.alloc(0), context({ lookup }))).condition).toBe('invalid-mechanism');
  });

  it('gives each session a fresh generated username; trace data is checked, never used', async () => {
    const server = () => serverFor({ allowAnonymous: true });
    const a = expectSuccess(await server().start('ANONYMOUS', Buffer.from('sirhc'), context({ lookup })));
    const b = expectSuccess(await server().start('ANONYMOUS', Buffer.alloc(0), context({ lookup })));
    expect(a.identity.kind).toBe('anonymous');
    expect(a.identity.username).toMatch(/^[0-9a-f]{24}$/);
    expect(a.identity.username).not.toBe(b.identity.username);
    expect(expectFailure(await server().start('ANONYMOUS', Buffer.from('x'.repeat(256)), context({ lookup }))).condition).toBe(
      'malformed-request',
    );
    expect(expectFailure(await server().start('ANONYMOUS', Buffer.from('a\0b'), context({ lookup }))).condition).toBe(
      'malformed-request',
    );
  });
});

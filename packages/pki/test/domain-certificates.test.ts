import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createCA,
  issueDomainCertificate,
  keyMatchesCertificate,
  readXmppIdentities,
  selfSignedCertificate,
  type CertificateAndKey,
} from '../src/index.js';
import { failureText, handshake } from './handshake.js';

describe.each(['ec', 'rsa'] as const)('self-signed XMPP domain certificates (%s)', (keyType) => {
  let localhost: CertificateAndKey;
  beforeAll(async () => {
    localhost = await selfSignedCertificate({ domains: ['localhost'], keyType });
  });

  it('is accepted over TLS 1.3 by a client that trusts it, for the domain it names', async () => {
    const outcome = await handshake({ cert: localhost.certPem, key: localhost.keyPem }, { ca: [localhost.certPem], servername: 'localhost' });
    expect(outcome.client.accepted, failureText(outcome)).toBe(true);
    expect(outcome.client.authorized).toBe(true);
    expect(outcome.client.protocol).toBe('TLSv1.3');
  });

  it('is also accepted by a TLS 1.2 client (c2s listeners serve older clients)', async () => {
    const outcome = await handshake({ cert: localhost.certPem, key: localhost.keyPem }, { ca: [localhost.certPem], servername: 'localhost', maxVersion: 'TLSv1.2' });
    expect(outcome.client.accepted, failureText(outcome)).toBe(true);
    expect(outcome.client.protocol).toBe('TLSv1.2');
  });

  it('is rejected by a client that does not trust it', async () => {
    const outcome = await handshake({ cert: localhost.certPem, key: localhost.keyPem }, { servername: 'localhost' });
    expect(outcome.client.accepted).toBe(false);
    expect(outcome.client.error).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('is rejected for a domain it does not name', async () => {
    const outcome = await handshake({ cert: localhost.certPem, key: localhost.keyPem }, { ca: [localhost.certPem], servername: 'example.org' });
    expect(outcome.client.accepted).toBe(false);
    expect(outcome.client.error).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});

describe('SNI between two domains', () => {
  it('serves each domain its own certificate, chosen by the name the client asks for', async () => {
    const [alpha, beta] = await Promise.all([
      selfSignedCertificate({ domains: ['alpha.example'] }),
      selfSignedCertificate({ domains: ['beta.example'] }),
    ]);
    const contexts = new Map([
      ['alpha.example', createSecureContext({ cert: alpha.certPem, key: alpha.keyPem })],
      ['beta.example', createSecureContext({ cert: beta.certPem, key: beta.keyPem })],
    ]);
    const server = {
      // alpha is the default for a client that sends no server_name.
      cert: alpha.certPem,
      key: alpha.keyPem,
      SNICallback: (servername: string, callback: (error: Error | null, context?: ReturnType<typeof createSecureContext>) => void) =>
        callback(null, contexts.get(servername.toLowerCase()) ?? contexts.get('alpha.example')),
    };
    for (const [domain, pair] of [
      ['alpha.example', alpha],
      ['beta.example', beta],
    ] as const) {
      const outcome = await handshake(server, { ca: [pair.certPem], servername: domain });
      expect(outcome.client.accepted, `${domain}: ${failureText(outcome)}`).toBe(true);
      expect(outcome.server.servername).toBe(domain);
      expect(outcome.client.peerCertificate?.fingerprint256).toBe(new X509Certificate(pair.certPem).fingerprint256);
      expect(readXmppIdentities(outcome.client.peerCertificate!).xmppAddrs).toEqual([domain]);
    }
    // Trusting only alpha while asking for beta gets beta's certificate, which is not trusted.
    const crossed = await handshake(server, { ca: [alpha.certPem], servername: 'beta.example' });
    expect(crossed.client.accepted).toBe(false);
    expect(crossed.client.error).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });
});

describe('XMPP identities in domain certificates', () => {
  it('carries DNS-ID, SRV-IDs and XmppAddr for each domain (RFC 6120 §13.7.1.2), read from a live peer certificate', async () => {
    const pair = await selfSignedCertificate({ domains: ['example.org', 'Bücher.example', 'example.org'] });
    const outcome = await handshake({ cert: pair.certPem, key: pair.keyPem }, { ca: [pair.certPem], servername: 'xn--bcher-kva.example' });
    expect(outcome.client.accepted, failureText(outcome)).toBe(true);
    expect(readXmppIdentities(outcome.client.peerCertificate!)).toEqual({
      xmppAddrs: ['example.org', 'bücher.example'],
      dnsNames: ['example.org', 'xn--bcher-kva.example'],
      srvNames: ['_xmpp-client.example.org', '_xmpp-server.example.org', '_xmpp-client.xn--bcher-kva.example', '_xmpp-server.xn--bcher-kva.example'],
      ipAddresses: [],
      commonName: 'example.org',
    });
    // Node's own reading of the same extension agrees.
    expect(new X509Certificate(pair.certPem).subjectAltName).toContain('othername:XmppAddr:bücher.example');
  });

  it('uses iPAddress and XmppAddr for an IP-literal domain', async () => {
    const pair = await selfSignedCertificate({ domains: ['127.0.0.1', '::1'] });
    expect(readXmppIdentities(new X509Certificate(pair.certPem))).toMatchObject({ xmppAddrs: ['127.0.0.1', '::1'], ipAddresses: ['127.0.0.1', '::1'], dnsNames: [] });
    const outcome = await handshake({ cert: pair.certPem, key: pair.keyPem }, { ca: [pair.certPem] });
    expect(outcome.client.accepted, failureText(outcome)).toBe(true);
  });

  it('reads identities from raw DER and from certificates without a subjectAltName', async () => {
    const pair = await selfSignedCertificate({ domains: ['localhost'] });
    expect(readXmppIdentities(new X509Certificate(pair.certPem).raw).xmppAddrs).toEqual(['localhost']);
    expect(() => readXmppIdentities(Buffer.from('nope'))).toThrow(expect.objectContaining({ code: 'PKI_MALFORMED_CERTIFICATE' }));
    expect(() => readXmppIdentities({} as never)).toThrow(expect.objectContaining({ code: 'PKI_MALFORMED_CERTIFICATE' }));
  });

  it('rejects what cannot be a domain', async () => {
    for (const domains of [[], ['exa mple.org'], ['*.example.org'], ['a'.repeat(64) + '.example'], ['example.org/x']]) {
      await expect(selfSignedCertificate({ domains }), JSON.stringify(domains)).rejects.toMatchObject({ code: 'PKI_INVALID_ARGUMENT' });
    }
  });
});

describe('domain certificates issued by the cluster CA', () => {
  it('verifies against the CA for every domain it names, and its key matches', async () => {
    const ca = await createCA({ commonName: 'dev CA' });
    const pair = await issueDomainCertificate(ca, { domains: ['localhost', 'conference.localhost'] });
    expect(keyMatchesCertificate(pair.certPem, pair.keyPem)).toBe(true);
    expect(new X509Certificate(pair.certPem).checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    for (const servername of ['localhost', 'conference.localhost']) {
      const outcome = await handshake({ cert: pair.certPem, key: pair.keyPem }, { ca: [ca.certPem], servername });
      expect(outcome.client.accepted, failureText(outcome)).toBe(true);
    }
  });
});

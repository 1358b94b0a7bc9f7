// Structural certificate parsing (subjectAltName) and tls-server-end-point (RFC 5929 §4.1),
// checked against certificates made by the openssl CLI.

import { createHash } from 'node:crypto';
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { certificateIdentities, channelBindingAdvertisement, channelBindingsForTls, tlsServerEndPoint } from '../src/index.js';
import { makeCertificate } from './helpers.js';

describe('certificateIdentities', () => {
  it('reads xmppAddr and SRVName otherNames and dNSNames, never the subject', () => {
    const cert = makeCertificate({
      san: [
        'DNS:example.com',
        'DNS:*.example.com',
        'otherName:1.3.6.1.5.5.7.8.5;UTF8:juliet@example.com',
        // openssl's config parser mangles non-ASCII; the nine x are replaced by UTF-8 below.
        'otherName:1.3.6.1.5.5.7.8.5;UTF8:xxxxxxxxx@example.com',
        'otherName:1.3.6.1.5.5.7.8.7;IA5:_xmpp-server.example.com',
        'email:juliet@example.com',
        'IP:127.0.0.1',
      ].join(','),
    });
    const placeholder = cert.der.indexOf('xxxxxxxxx@');
    Buffer.from('ロミオ', 'utf8').copy(cert.der, placeholder); // same length: 9 bytes
    expect(certificateIdentities(cert.der)).toEqual({
      xmppAddrs: ['juliet@example.com', 'ロミオ@example.com'],
      dnsNames: ['example.com', '*.example.com'],
      srvNames: ['_xmpp-server.example.com'],
    });
  });

  it('finds nothing in a certificate without subjectAltName (the CN is not an identity)', () => {
    const cert = makeCertificate();
    expect(new X509Certificate(cert.der).subject).toContain('CN=not-an-identity.invalid');
    expect(certificateIdentities(cert.der)).toEqual({ xmppAddrs: [], dnsNames: [], srvNames: [] });
  });

  it('returns undefined for truncated or garbage DER, and never throws', () => {
    const cert = makeCertificate({ san: 'DNS:example.com' });
    for (let cut = 0; cut < cert.der.length; cut += 7) {
      expect(certificateIdentities(cert.der.subarray(0, cut))).toBeUndefined();
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(cert.der.length - 1), fc.nat(255), (noise, at, value) => {
        certificateIdentities(Buffer.from(noise));
        const mutated = Buffer.from(cert.der);
        mutated[at] = value;
        certificateIdentities(mutated);
        tlsServerEndPoint(mutated);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('tls-server-end-point', () => {
  const cases: Array<[string, Parameters<typeof makeCertificate>[0], string]> = [
    ['ECDSA with SHA-256', { key: 'ec', digest: 'sha256' }, 'sha256'],
    ['ECDSA with SHA-384', { key: 'ec', digest: 'sha384' }, 'sha384'],
    ['RSA with SHA-512', { key: 'rsa', digest: 'sha512' }, 'sha512'],
    ['RSA with SHA-1 (upgraded to SHA-256)', { key: 'rsa', digest: 'sha1' }, 'sha256'],
    ['RSASSA-PSS with SHA-384', { key: 'rsa-pss', digest: 'sha384' }, 'sha384'],
  ];
  for (const [name, spec, hash] of cases) {
    it(`${name}: hashes the DER with ${hash}`, () => {
      const cert = makeCertificate(spec);
      expect(tlsServerEndPoint(cert.der)).toEqual(createHash(hash).update(cert.der).digest());
    });
  }

  it('is undefined for Ed25519 (RFC 5929 defines no hash for it)', () => {
    expect(tlsServerEndPoint(makeCertificate({ key: 'ed25519' }).der)).toBeUndefined();
  });
});

describe('channelBindingsForTls and XEP-0440', () => {
  const cert = makeCertificate();
  const exporter = (length: number, label: string, context: Buffer) => {
    expect([length, label, context.length]).toEqual([32, 'EXPORTER-Channel-Binding', 0]);
    return Buffer.alloc(32, 9);
  };

  it('TLS 1.3 gets both bindings, TLS 1.2 only tls-server-end-point (RFC 9266 §3)', () => {
    const v13 = channelBindingsForTls({ protocol: 'TLSv1.3', exportKeyingMaterial: exporter, serverCertificate: cert.der });
    expect(Object.keys(v13).sort()).toEqual(['tls-exporter', 'tls-server-end-point']);
    expect(channelBindingAdvertisement(v13)).toEqual(['tls-exporter', 'tls-server-end-point']);
    const v12 = channelBindingsForTls({ protocol: 'TLSv1.2', exportKeyingMaterial: exporter, serverCertificate: cert.der });
    expect(channelBindingAdvertisement(v12)).toEqual(['tls-server-end-point']);
    expect(channelBindingAdvertisement({})).toEqual([]);
    expect(channelBindingAdvertisement()).toEqual(['tls-exporter', 'tls-server-end-point']);
  });
});

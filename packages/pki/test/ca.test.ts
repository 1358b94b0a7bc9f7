import { X509Certificate, createPrivateKey } from 'node:crypto';
import * as forgeNamespace from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_CA_COMMON_NAME,
  createCA,
  issueCertificate,
  keyMatchesCertificate,
  selfSignedCertificate,
  type CertificateAuthority,
} from '../src/index.js';
import { generateKey, privateKeyPem, signerFor } from '../src/keys.js';
import { KeyUsage, OID, buildCertificate, readCertificate } from '../src/x509.js';

const forge = (forgeNamespace as unknown as { default?: typeof forgeNamespace }).default ?? forgeNamespace;
const DAY = 86_400_000;

function extensionsOf(certPem: string) {
  return readCertificate(new X509Certificate(certPem).raw).extensions;
}

describe.each(['ec', 'rsa'] as const)('createCA (%s)', (keyType) => {
  let ca: CertificateAuthority;
  beforeAll(async () => {
    ca = await createCA({ keyType, commonName: `Example ${keyType} CA` });
  });

  it('makes a self-signed CA certificate whose key matches', () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe(`CN=Example ${keyType} CA`);
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(keyMatchesCertificate(ca.certPem, ca.keyPem)).toBe(true);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(ca.keyPem);
    expect(key.asymmetricKeyType).toBe(keyType);
    if (keyType === 'rsa') expect(key.asymmetricKeyDetails?.modulusLength).toBe(3072);
    else expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('may only sign end-entity certificates (critical basicConstraints with pathLen 0, keyCertSign)', () => {
    const extensions = extensionsOf(ca.certPem);
    expect(extensions.get(OID.basicConstraints)).toEqual({ critical: true, value: Buffer.from('30060101ff020100', 'hex') });
    // digitalSignature, keyCertSign, cRLSign: bits 0, 5, 6 -> 1000 0110, one unused bit
    expect(extensions.get(OID.keyUsage)).toEqual({ critical: true, value: Buffer.from('03020186', 'hex') });
    expect(extensions.has(OID.subjectKeyIdentifier)).toBe(true);
  });

  it('is valid for ten years by default, from a few minutes ago', () => {
    const cert = new X509Certificate(ca.certPem);
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    expect(from).toBeLessThan(Date.now());
    expect(from).toBeGreaterThan(Date.now() - 3_600_000);
    expect(to - Date.now()).toBeGreaterThan(3649 * DAY);
    expect(to - Date.now()).toBeLessThan(3651 * DAY);
  });

  it('issues certificates that verify against it, also by an independent verifier', async () => {
    const issued = await issueCertificate(ca, { role: 'gateway', commonName: 'gw', dnsNames: ['gw.example'], keyType });
    const cert = new X509Certificate(issued.certPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.issuer).toBe(caCert.subject);
    expect(keyMatchesCertificate(issued.certPem, issued.keyPem)).toBe(true);
    if (keyType === 'rsa') {
      // node-forge parses and verifies RSA certificates itself: a second implementation agreeing.
      const forgeCa = forge.pki.certificateFromPem(ca.certPem);
      expect(forgeCa.verify(forge.pki.certificateFromPem(issued.certPem))).toBe(true);
    }
  });
});

describe('issued certificates', () => {
  let ca: CertificateAuthority;
  beforeAll(async () => {
    ca = await createCA();
  });

  it('defaults to ECDSA P-256, the measured faster choice', async () => {
    const issued = await issueCertificate(ca, { role: 'admin', commonName: 'alice' });
    expect(createPrivateKey(issued.keyPem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(new X509Certificate(ca.certPem).publicKey.asymmetricKeyType).toBe('ec');
    expect(new X509Certificate(ca.certPem).subject).toBe(`CN=${DEFAULT_CA_COMMON_NAME}`);
  });

  it('restricts extended key usage by role', async () => {
    const eku = async (role: 'gateway' | 'service' | 'admin') =>
      new X509Certificate((await issueCertificate(ca, { role, commonName: role })).certPem).keyUsage;
    expect(await eku('gateway')).toEqual([OID.serverAuth, OID.clientAuth]);
    expect(await eku('service')).toEqual([OID.clientAuth]);
    expect(await eku('admin')).toEqual([OID.clientAuth]);
  });

  it('names the gateway address in dNSName and iPAddress entries', async () => {
    const issued = await issueCertificate(ca, {
      role: 'gateway',
      commonName: 'gw',
      dnsNames: ['GW1.Cluster.Internal', 'gw1.cluster.internal'],
      ipAddresses: ['10.0.0.7', '2001:db8::7', '::ffff:192.0.2.1'],
    });
    expect(new X509Certificate(issued.certPem).subjectAltName).toBe(
      'URI:ambrosia:role:gateway, DNS:gw1.cluster.internal, IP Address:10.0.0.7, IP Address:2001:DB8:0:0:0:0:0:7, IP Address:0:0:0:0:0:FFFF:C000:201',
    );
  });

  it('gives each certificate a distinct positive 128-bit serial number', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const serial = new X509Certificate((await issueCertificate(ca, { role: 'admin', commonName: 'a' })).certPem).serialNumber;
      expect(serial).toMatch(/^[4-7][0-9A-F]{31}$/);
      serials.add(serial);
    }
    expect(serials.size).toBe(20);
  });

  it('refuses a certificate that would outlive the CA, and an expired CA', async () => {
    const shortCa = await createCA({ validityDays: 30 });
    await expect(issueCertificate(shortCa, { role: 'admin', commonName: 'a', validityDays: 31 })).rejects.toMatchObject({ code: 'PKI_CA_VALIDITY' });
    await expect(issueCertificate(shortCa, { role: 'admin', commonName: 'a', validityDays: 29 })).resolves.toBeDefined();
    const expiredCa = await createCA({ notBefore: new Date(Date.now() - 10 * DAY), validityDays: 1 });
    await expect(issueCertificate(expiredCa, { role: 'admin', commonName: 'a', validityDays: 1 })).rejects.toMatchObject({ code: 'PKI_CA_VALIDITY' });
  });

  it('writes dates from 2050 on as GeneralizedTime (RFC 5280 §4.1.2.5)', async () => {
    const longCa = await createCA({ validityDays: 36_500 });
    const to = new Date(new X509Certificate(longCa.certPem).validTo);
    expect(to.getUTCFullYear()).toBeGreaterThanOrEqual(2050);
    expect(Math.abs(to.getTime() - (Date.now() + 36_500 * DAY))).toBeLessThan(DAY);
    const der = new X509Certificate(longCa.certPem).raw.toString('latin1');
    expect(der).toContain(`\x18\x0f${to.getUTCFullYear()}`); // GeneralizedTime tag, 15 bytes
  });

  it('refuses a CA that is not one or whose key does not match', async () => {
    const other = await createCA();
    const leaf = await issueCertificate(ca, { role: 'admin', commonName: 'a' });
    await expect(issueCertificate({ certPem: ca.certPem, keyPem: other.keyPem }, { role: 'admin', commonName: 'a' })).rejects.toMatchObject({ code: 'PKI_INVALID_CA' });
    await expect(issueCertificate(leaf, { role: 'admin', commonName: 'a' })).rejects.toMatchObject({ code: 'PKI_INVALID_CA' });
    const selfSigned = await selfSignedCertificate({ domains: ['localhost'] });
    await expect(issueCertificate(selfSigned, { role: 'admin', commonName: 'a' })).rejects.toMatchObject({ code: 'PKI_INVALID_CA' });
    await expect(issueCertificate({ certPem: 'garbage', keyPem: 'garbage' }, { role: 'admin', commonName: 'a' })).rejects.toMatchObject({ code: 'PKI_INVALID_CA' });
    // CA:TRUE but a keyUsage without keyCertSign: peers would refuse what it signs.
    const key = await generateKey('ec', 'ca');
    const { pem } = buildCertificate({
      subjectCommonName: 'not a signing CA',
      subjectPublicKey: key.publicKey,
      signer: signerFor(key.privateKey),
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + DAY),
      isCertificateAuthority: true,
      keyUsage: [KeyUsage.digitalSignature],
    });
    await expect(issueCertificate({ certPem: pem, keyPem: privateKeyPem(key.privateKey) }, { role: 'admin', commonName: 'a' })).rejects.toMatchObject({
      code: 'PKI_INVALID_CA',
    });
  });

  it('validates its inputs', async () => {
    const bad = [
      { role: 'admin', commonName: '' },
      { role: 'admin', commonName: 'x'.repeat(65) },
      { role: 'admin', commonName: 'line\nbreak' },
      { role: 'admin', commonName: 'a', validityDays: 0 },
      { role: 'admin', commonName: 'a', validityDays: -1 },
      { role: 'admin', commonName: 'a', validityDays: Number.NaN },
      { role: 'admin', commonName: 'a', validityDays: 40_000 },
      { role: 'admin', commonName: 'a', keyType: 'dsa' },
      { role: 'gateway', commonName: 'a', ipAddresses: ['300.1.1.1'] },
      { role: 'gateway', commonName: 'a', ipAddresses: ['fe80::1%eth0'] },
      { role: 'gateway', commonName: 'a', dnsNames: ['-bad.example'] },
      { role: 'gateway', commonName: 'a', dnsNames: Array.from({ length: 1001 }, (_, i) => `h${i}.example`) },
      { role: 'gateway', commonName: 'a', notBefore: new Date(Number.NaN) },
    ];
    for (const req of bad) {
      await expect(issueCertificate(ca, req as never), JSON.stringify(req).slice(0, 80)).rejects.toMatchObject({ code: 'PKI_INVALID_ARGUMENT' });
    }
    await expect(createCA({ commonName: '' })).rejects.toMatchObject({ code: 'PKI_INVALID_ARGUMENT' });
  });

  it('keeps a Unicode common name intact', async () => {
    const issued = await issueCertificate(ca, { role: 'service', commonName: 'Dienst für Bücher ✉' });
    expect(new X509Certificate(issued.certPem).subject).toBe('CN=Dienst für Bücher ✉');
  });
});

/**
 * Hand-made certificates, signed by a real CA, carrying names our issuer would never write:
 * for checking that readers fail closed. Built with the package's own encoder.
 */
import { openCA, type CertificateAndKey, type CertificateAuthority } from '../src/ca.js';
import { generateKey, privateKeyPem, signerFor } from '../src/keys.js';
import { KeyUsage, OID, buildCertificate, type GeneralName } from '../src/x509.js';

export async function craftCertificate(
  ca: CertificateAuthority,
  options: { commonName?: string; names: GeneralName[]; extendedKeyUsage?: string[] },
): Promise<CertificateAndKey> {
  const opened = openCA(ca);
  const key = await generateKey('ec', 'leaf');
  const { pem } = buildCertificate({
    subjectCommonName: options.commonName ?? 'crafted',
    subjectPublicKey: key.publicKey,
    issuerNameDer: opened.subjectNameDer,
    issuerKeyIdentifier: opened.keyIdentifier,
    signer: signerFor(opened.privateKey),
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    isCertificateAuthority: false,
    keyUsage: [KeyUsage.digitalSignature],
    extendedKeyUsage: options.extendedKeyUsage ?? [OID.serverAuth, OID.clientAuth],
    subjectAltNames: options.names,
  });
  return { certPem: pem, keyPem: privateKeyPem(key.privateKey) };
}

export const uri = (value: string): GeneralName => ({ kind: 'uri', value });

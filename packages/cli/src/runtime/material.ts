// TLS material named by the configuration, read and checked by @ambrosia/pki. A failure becomes
// a configuration problem on the key that named the file, so the operator sees the same one-line
// form as for a schema problem.
import { readFile } from 'node:fs/promises';
import { issueCertificate, isPkiError, keyMatchesCertificate, loadCA, type CertificateAuthority } from '@ambrosia/pki';
import { ConfigError, type GatewayConfig, type ImServiceConfig } from '@ambrosia/config';
import type { GatewayOptions } from '@ambrosia/gateway';

function problem(path: Array<string | number>, message: string): ConfigError {
  return new ConfigError([{ path, message }]);
}

async function readBytes(path: Array<string | number>, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw problem(path, `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

async function readText(path: Array<string | number>, file: string): Promise<string> {
  return (await readBytes(path, file)).toString('utf8');
}

export async function loadConfiguredCA(path: Array<string | number>, dir: string): Promise<CertificateAuthority> {
  try {
    return await loadCA(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw problem(path, `no CA in ${dir} (create it with \`ambrosia ca init --dir ${dir}\`)`);
    throw problem(path, `the CA in ${dir} cannot be used: ${isPkiError(error) ? error.message : (error as Error).message}`);
  }
}

async function pair(certPath: Array<string | number>, certFile: string, keyPath: Array<string | number>, keyFile: string): Promise<{ cert: string; key: string }> {
  const [cert, key] = await Promise.all([readText(certPath, certFile), readText(keyPath, keyFile)]);
  let matches = false;
  try {
    matches = keyMatchesCertificate(cert, key);
  } catch (error) {
    throw problem(certPath, `${certFile} and ${keyFile} cannot be read as a certificate and its key: ${(error as Error).message}`);
  }
  if (!matches) throw problem(keyPath, `${keyFile} is not the key of ${certFile}`);
  return { cert, key };
}

export type GatewayMaterial = Pick<GatewayOptions, 'ca' | 'tls' | 'domainCertificates'> & { decoySecret?: Buffer };

/** The gateway's CA, channel files, domain certificates and decoy secret, read and checked. */
export async function gatewayMaterial(config: GatewayConfig): Promise<GatewayMaterial> {
  const material: GatewayMaterial = {};
  const { tls } = config;
  if (tls.caDir !== undefined) {
    const ca = await loadConfiguredCA(['gateway', 'tls', 'caDir'], tls.caDir);
    material.ca = { cert: ca.certPem, key: ca.keyPem };
  }
  if (tls.channelCert !== undefined && tls.channelKey !== undefined && tls.caCert !== undefined) {
    const channel = await pair(['gateway', 'tls', 'channelCert'], tls.channelCert, ['gateway', 'tls', 'channelKey'], tls.channelKey);
    material.tls = { channelCert: channel.cert, channelKey: channel.key, caCert: await readText(['gateway', 'tls', 'caCert'], tls.caCert) };
  }
  if (config.domainCertificates !== undefined) {
    material.domainCertificates = await Promise.all(
      config.domainCertificates.map(async (entry, index) => ({
        domain: entry.domain,
        ...(await pair(['gateway', 'domainCertificates', index, 'cert'], entry.cert, ['gateway', 'domainCertificates', index, 'key'], entry.key)),
      })),
    );
  }
  if (config.auth?.decoySecretFile !== undefined) {
    material.decoySecret = await readBytes(['gateway', 'auth', 'decoySecretFile'], config.auth.decoySecretFile);
  }
  return material;
}

/** The IM service's channel TLS: its files, or a certificate for its domains issued from the CA. */
export async function imServiceTls(config: ImServiceConfig, instance: string): Promise<{ cert: string; key: string; ca: string }> {
  const { tls } = config;
  if (tls.cert !== undefined && tls.key !== undefined && tls.caCert !== undefined) {
    const own = await pair(['imService', 'tls', 'cert'], tls.cert, ['imService', 'tls', 'key'], tls.key);
    return { ...own, ca: await readText(['imService', 'tls', 'caCert'], tls.caCert) };
  }
  if (tls.caDir === undefined) throw problem(['imService', 'tls'], 'needs cert, key and caCert, or caDir');
  const ca = await loadConfiguredCA(['imService', 'tls', 'caDir'], tls.caDir);
  try {
    const issued = await issueCertificate(ca, {
      role: 'service',
      commonName: instance.slice(0, 64),
      permissions: config.domains.flatMap((domain) => [
        { domain, type: 'client' as const },
        { domain, type: 'server' as const },
      ]),
    });
    return { cert: issued.certPem, key: issued.keyPem, ca: ca.certPem };
  } catch (error) {
    throw problem(['imService', 'domains'], `cannot issue a service certificate for them: ${(error as Error).message}`);
  }
}

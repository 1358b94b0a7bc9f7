import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createCA,
  issueCertificate,
  mayRegister,
  permissionUri,
  readPeerAuthorisation,
  type CertificateAuthority,
  type PeerAuthorisation,
  type ServicePermission,
} from '../src/index.js';
import { canonicalDnsName } from '../src/names.js';
import { craftCertificate, uri } from './craft.js';

let ca: CertificateAuthority;
beforeAll(async () => {
  ca = await createCA({ commonName: 'authorisation test CA' });
});

const authOf = (certPem: string) => readPeerAuthorisation(new X509Certificate(certPem));

describe('readPeerAuthorisation', () => {
  it('reads each role', async () => {
    for (const role of ['gateway', 'service', 'admin'] as const) {
      const { certPem } = await issueCertificate(ca, { role, commonName: `a ${role}` });
      expect(authOf(certPem)).toMatchObject({ role, commonName: `a ${role}`, permissions: [] });
    }
  });

  it('round-trips permissions, canonicalising IDNs and case, dropping duplicates', async () => {
    const { certPem } = await issueCertificate(ca, {
      role: 'service',
      commonName: 'im',
      permissions: [
        { domain: 'Example.ORG', type: 'client' },
        { domain: 'example.org.', type: 'client' },
        { domain: 'bücher.example', type: 'server' },
        { domain: '*', type: 'component' },
      ],
    });
    expect(new X509Certificate(certPem).subjectAltName).toBe(
      'URI:ambrosia:role:service, URI:ambrosia:register:example.org/client, URI:ambrosia:register:xn--bcher-kva.example/server, URI:ambrosia:register:*/component',
    );
    expect(authOf(certPem)?.permissions).toEqual([
      { domain: 'example.org', type: 'client' },
      { domain: 'xn--bcher-kva.example', type: 'server' },
      { domain: '*', type: 'component' },
    ]);
  });

  it('round-trips any permission set (property)', async () => {
    const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?$/).filter((l) => l.slice(2, 4) !== '--');
    const topLabel = fc.stringMatching(/^[a-z][a-z0-9]{0,9}$/);
    const domain = fc.oneof(
      fc.constant('*'),
      fc.tuple(fc.array(label, { maxLength: 3 }), topLabel).map(([labels, top]) => [...labels, top].join('.')),
    );
    const permission = fc.record({ domain, type: fc.constantFrom('client' as const, 'server' as const, 'component' as const) });
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(permission, { maxLength: 6, selector: (p) => `${p.domain}/${p.type}` }), async (permissions) => {
        const { certPem } = await issueCertificate(ca, { role: 'service', commonName: 'prop', permissions });
        expect(authOf(certPem)?.permissions).toEqual(permissions);
      }),
      { numRuns: 40 },
    );
  });

  it('either refuses a domain or reads back exactly its canonical form (property)', async () => {
    const tricky = fc.constantFrom('/', '?', '#', '\\', '%', '@', ':', '\t', ' ', '.', '-', '*', '／', '．', 'ü', 'Ü', '\u00ad', '0', 'x');
    const anyDomain = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.string({ unit: 'grapheme', maxLength: 12 }),
      fc.domain(),
      fc.tuple(fc.domain(), fc.array(tricky, { maxLength: 4 }), fc.domain()).map(([a, t, b]) => `${a}${t.join('')}${b}`),
    );
    await fc.assert(
      fc.asyncProperty(anyDomain.filter((domain) => domain !== '*'), async (domain) => {
        const canonical = canonicalDnsName(domain);
        const issued = issueCertificate(ca, { role: 'service', commonName: 'prop', permissions: [{ domain, type: 'client' }] });
        if (canonical === undefined) {
          await expect(issued).rejects.toMatchObject({ code: 'PKI_INVALID_ARGUMENT' });
          return;
        }
        const auth = authOf((await issued).certPem);
        expect(auth?.permissions).toEqual([{ domain: canonical, type: 'client' }]);
        expect(mayRegister(auth, domain, 'client')).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses names a URL host parser would cut, decode or read as IPv4 addresses', async () => {
    const refused = ['0', '1.2', '１２', 'a.123', 'a.0x1f', '127.0.0.1', 'example.org/x', 'example.org?x', 'example.org#x', 'exa\\mple.org'];
    refused.push('a%41.org', 'ex\tample.org', 'user@example.org', 'example.org:5222', 'example.org／x', ' example.org', 'example..org', '.example.org');
    for (const domain of refused) {
      expect(canonicalDnsName(domain), domain).toBeUndefined();
      expect(mayRegister({ role: 'service', permissions: [{ domain: 'example.org', type: 'client' }] }, domain, 'client'), domain).toBe(false);
    }
    expect(canonicalDnsName('ｅｘａｍｐｌｅ．ｏｒｇ')).toBe('example.org');
    expect(canonicalDnsName('0x1.example')).toBe('0x1.example');
    expect(canonicalDnsName('123.example')).toBe('123.example');
  });

  it('reads the commonName structurally, not from the DN string', async () => {
    const tricky = 'svc, CN=admin/O=evil\\';
    const { certPem } = await issueCertificate(ca, { role: 'service', commonName: tricky });
    expect(authOf(certPem)?.commonName).toBe(tricky);
  });

  it('fails closed on ambiguous or malformed authorisation names', async () => {
    const cases: Array<[string, ReturnType<typeof uri>[]]> = [
      ['no role', [uri('ambrosia:register:example.org/client')]],
      ['two roles', [uri('ambrosia:role:service'), uri('ambrosia:role:admin')]],
      ['an unknown role', [uri('ambrosia:role:superuser')]],
      ['permissions on an admin', [uri('ambrosia:role:admin'), uri('ambrosia:register:example.org/client')]],
      ['permissions on a gateway', [uri('ambrosia:role:gateway'), uri('ambrosia:register:example.org/client')]],
      ['an unknown registration type', [uri('ambrosia:role:service'), uri('ambrosia:register:example.org/everything')]],
      ['a non-canonical domain', [uri('ambrosia:role:service'), uri('ambrosia:register:Example.org/client')]],
      ['a domain with a path', [uri('ambrosia:role:service'), uri('ambrosia:register:example.org/x/client')]],
      ['a missing domain', [uri('ambrosia:role:service'), uri('ambrosia:register:/client')]],
    ];
    for (const [what, names] of cases) {
      const { certPem } = await craftCertificate(ca, { names });
      expect(authOf(certPem), what).toBeUndefined();
    }
  });

  it('accepts the same role twice and ignores names that are not its own', async () => {
    const { certPem } = await craftCertificate(ca, {
      commonName: 'svc',
      names: [
        uri('ambrosia:role:service'),
        uri('ambrosia:role:service'),
        uri('https://example.org/ambrosia:role:admin'),
        uri('ambrosia:future-extension:something'),
        { kind: 'dns', value: 'ambrosia-role-admin.example' },
        uri('ambrosia:register:example.org/client'),
      ],
    });
    expect(authOf(certPem)).toMatchObject({ role: 'service', permissions: [{ domain: 'example.org', type: 'client' }] });
  });

  it('returns undefined for a socket without a peer certificate and for garbage', () => {
    expect(readPeerAuthorisation({} as never)).toBeUndefined();
    expect(readPeerAuthorisation({ raw: Buffer.from('not a certificate') } as never)).toBeUndefined();
    expect(readPeerAuthorisation({ raw: Buffer.alloc(0) } as never)).toBeUndefined();
  });
});

describe('mayRegister', () => {
  const service: PeerAuthorisation = {
    role: 'service',
    commonName: 'im',
    serialNumber: '01',
    permissions: [
      { domain: 'example.org', type: 'client' },
      { domain: 'xn--bcher-kva.example', type: 'server' },
    ],
  };

  it('allows exactly the listed domain/type pairs', () => {
    expect(mayRegister(service, 'example.org', 'client')).toBe(true);
    expect(mayRegister(service, 'example.org', 'server')).toBe(false);
    expect(mayRegister(service, 'example.org', 'component')).toBe(false);
    expect(mayRegister(service, 'other.org', 'client')).toBe(false);
    expect(mayRegister(service, 'sub.example.org', 'client')).toBe(false);
    expect(mayRegister(service, 'org', 'client')).toBe(false);
  });

  it('compares domains in canonical form', () => {
    expect(mayRegister(service, 'EXAMPLE.org', 'client')).toBe(true);
    expect(mayRegister(service, 'example.org.', 'client')).toBe(true);
    expect(mayRegister(service, 'bücher.example', 'server')).toBe(true);
    expect(mayRegister(service, 'BÜCHER.example', 'server')).toBe(true);
  });

  it('rejects unknown types and invalid domains', () => {
    expect(mayRegister(service, 'example.org', 'CLIENT')).toBe(false);
    expect(mayRegister(service, 'example.org', 'client ')).toBe(false);
    expect(mayRegister(service, '', 'client')).toBe(false);
    expect(mayRegister(service, '*', 'client')).toBe(false);
    expect(mayRegister(service, 'exa mple.org', 'client')).toBe(false);
    expect(mayRegister(service, '127.0.0.1', 'client')).toBe(false);
  });

  it('lets a wildcard permission match any domain, for its type only', () => {
    const anyClient: PeerAuthorisation = { ...service, permissions: [{ domain: '*', type: 'client' }] };
    expect(mayRegister(anyClient, 'example.org', 'client')).toBe(true);
    expect(mayRegister(anyClient, 'another.example', 'client')).toBe(true);
    expect(mayRegister(anyClient, 'example.org', 'server')).toBe(false);
    expect(mayRegister(anyClient, 'not valid', 'client')).toBe(false);
  });

  it('never lets a gateway, an admin or nobody register', () => {
    const everything: ServicePermission[] = [{ domain: '*', type: 'client' }];
    expect(mayRegister({ ...service, role: 'admin', permissions: everything }, 'example.org', 'client')).toBe(false);
    expect(mayRegister({ ...service, role: 'gateway', permissions: everything }, 'example.org', 'client')).toBe(false);
    expect(mayRegister(undefined, 'example.org', 'client')).toBe(false);
  });
});

describe('issuing with permissions', () => {
  it('refuses permissions on roles that cannot register, and malformed permissions', async () => {
    await expect(issueCertificate(ca, { role: 'admin', commonName: 'a', permissions: [{ domain: 'example.org', type: 'client' }] })).rejects.toMatchObject({
      code: 'PKI_INVALID_ARGUMENT',
    });
    await expect(issueCertificate(ca, { role: 'service', commonName: 's', permissions: [{ domain: 'exa mple', type: 'client' }] })).rejects.toMatchObject({
      code: 'PKI_INVALID_ARGUMENT',
    });
    await expect(
      issueCertificate(ca, { role: 'service', commonName: 's', permissions: [{ domain: 'example.org', type: 'admin' as never }] }),
    ).rejects.toMatchObject({ code: 'PKI_INVALID_ARGUMENT' });
    await expect(issueCertificate(ca, { role: 'root' as never, commonName: 's' })).rejects.toMatchObject({ code: 'PKI_INVALID_ARGUMENT' });
  });

  it('writes the documented URI for a permission', () => {
    expect(permissionUri({ domain: 'Example.org', type: 'component' })).toBe('ambrosia:register:example.org/component');
    expect(permissionUri({ domain: '*', type: 'server' })).toBe('ambrosia:register:*/server');
  });
});

import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCA, isPkiError, issueCertificate, readPeerAuthorisation, readXmppIdentities, selfSignedCertificate } from '../src/index.js';

let serviceDer: Buffer;
let domainDer: Buffer;
beforeAll(async () => {
  const ca = await createCA();
  serviceDer = new X509Certificate(
    (await issueCertificate(ca, { role: 'service', commonName: 'im', permissions: [{ domain: 'example.org', type: 'client' }] })).certPem,
  ).raw;
  domainDer = new X509Certificate((await selfSignedCertificate({ domains: ['example.org', 'bücher.example'] })).certPem).raw;
});

/** A valid certificate with some bytes changed, cut short or extended. */
const damaged = (original: () => Buffer) =>
  fc
    .tuple(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.uint8Array({ maxLength: 3 }),
    )
    .map(([edits, cut, tail]) => {
      const source = original();
      const bytes = Buffer.from(source);
      for (const [position, value] of edits) bytes[position % bytes.length] = value;
      const kept = cut === undefined ? bytes : bytes.subarray(0, cut % bytes.length);
      return Buffer.concat([kept, tail]);
    });

describe('reading damaged certificates', () => {
  it('readPeerAuthorisation never throws and never grants more than the original (property)', () => {
    fc.assert(
      fc.property(damaged(() => serviceDer), (raw) => {
        const auth = readPeerAuthorisation({ raw } as never);
        if (auth !== undefined) {
          expect(['gateway', 'service', 'admin']).toContain(auth.role);
          for (const permission of auth.permissions) expect(['client', 'server', 'component']).toContain(permission.type);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('readXmppIdentities fails only with PKI_MALFORMED_CERTIFICATE (property)', () => {
    fc.assert(
      fc.property(damaged(() => domainDer), (raw) => {
        try {
          const identities = readXmppIdentities(raw);
          for (const name of identities.xmppAddrs) expect(typeof name).toBe('string');
        } catch (error) {
          expect(isPkiError(error) && error.code).toBe('PKI_MALFORMED_CERTIFICATE');
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects DER nested deeper than any certificate', () => {
    const sequenceOf = (content: Buffer) => {
      const length = content.length < 0x80 ? Buffer.from([content.length]) : Buffer.from([0x82, content.length >> 8, content.length & 0xff]);
      return Buffer.concat([Buffer.from([0x30]), length, content]);
    };
    let nested = Buffer.from([0x05, 0x00]);
    for (let i = 0; i < 10_000; i++) nested = sequenceOf(nested);
    expect(() => readXmppIdentities(nested)).toThrow(expect.objectContaining({ code: 'PKI_MALFORMED_CERTIFICATE' }));
    expect(readPeerAuthorisation({ raw: nested } as never)).toBeUndefined();
  });
});

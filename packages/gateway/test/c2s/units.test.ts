// Units of the client edge that need no socket: presence priority, the session table's indexes,
// the certificate cache's bounds, closed-event reasons, routing domains.

import { parseJID } from '@ambrosia/jid';
import type { ClientStream } from '@ambrosia/stream';
import { parseElement } from '@ambrosia/xml';
import { describe, expect, it } from 'vitest';
import { DomainCertificates, SessionTable, broadcastPresence, certificateKey, closedReason, priorityOf, routingDomain } from '../../src/index.js';
import { testCA } from './helpers.js';

const presence = (xml: string) => parseElement(xml, { defaultNamespace: 'jabber:client' });

describe('broadcast presence (RFC 6121 §4.7.2.3)', () => {
  it('reads availability and priority of presence without to', () => {
    expect(broadcastPresence(presence('<presence/>'))).toEqual({ available: true, priority: 0 });
    expect(broadcastPresence(presence('<presence><priority>-5</priority></presence>'))).toEqual({ available: true, priority: -5 });
    expect(broadcastPresence(presence("<presence type='unavailable'/>"))).toEqual({ available: false, priority: 0 });
    expect(broadcastPresence(presence("<presence to='a@b'/>"))).toBeUndefined();
    expect(broadcastPresence(presence("<presence type='subscribe'/>"))).toBeUndefined();
    expect(broadcastPresence(presence('<message/>'))).toBeUndefined();
  });

  it('treats a priority outside -128..127 or not an integer as absent', () => {
    for (const [text, value] of [['127', 127], ['-128', -128], ['128', 0], ['-129', 0], ['1.5', 0], ['abc', 0], ['+3', 3], [' 7 ', 7], ['99999999999', 0]] as const) {
      expect(priorityOf(presence(`<presence><priority>${text}</priority></presence>`))).toBe(value);
    }
  });
});

function fakeStream(sessionId: string): ClientStream {
  return { sessionId, state: 'established', deliver: () => 'sent' } as unknown as ClientStream;
}

describe('SessionTable', () => {
  it('indexes by full and bare JID; a newer holder of a full JID keeps the index when the older leaves', () => {
    const table = new SessionTable(10);
    const jid = parseJID('Juliet@Example.org/balcony');
    const older = fakeStream('s1');
    const newer = fakeStream('s2');
    table.add(older, 'tcp');
    table.add(newer, 'tls');
    table.bind(older, jid);
    table.bind(newer, jid);
    expect(table.sessionFor('juliet@example.org/balcony')).toBe('s2');
    // A non-canonical spelling is prepared once.
    expect(table.sessionFor('JULIET@EXAMPLE.ORG/balcony')).toBe('s2');
    expect(table.forBareJid('juliet@example.org').map((e) => e.stream.sessionId).sort()).toEqual(['s1', 's2']);
    table.remove(older);
    expect(table.sessionFor('juliet@example.org/balcony')).toBe('s2');
    table.remove(newer);
    expect(table.sessionFor('juliet@example.org/balcony')).toBeUndefined();
    expect(table.forBareJid('juliet@example.org')).toEqual([]);
    expect(table.size).toBe(0);
  });

  it('is full at maxSessions and refuses deliveries to unknown sessions', () => {
    const table = new SessionTable(2);
    table.add(fakeStream('a'), 'tcp');
    expect(table.full).toBe(false);
    table.add(fakeStream('b'), 'tcp');
    expect(table.full).toBe(true);
    expect(table.deliver('nope', presence('<message/>'))).toBe('refused');
    expect(table.deliver('a', presence('<message/>'))).toBe('sent');
    expect(() => new SessionTable(0)).toThrow(RangeError);
  });
});

describe('DomainCertificates', () => {
  it('issues only for allowed domains, once for concurrent requests, and keeps at most maxIssued', async () => {
    const ca = await testCA();
    const allowed = new Set(['a.example', 'b.example', 'c.example']);
    const certificates = new DomainCertificates({ ca, mayIssue: (d) => allowed.has(d), fallbackDomain: 'localhost', maxIssued: 2 });
    await certificates.init();
    expect(await certificates.contextFor('evil.example')).toBeUndefined();
    const [x, y] = await Promise.all([certificates.contextFor('a.example'), certificates.contextFor('A.Example')]);
    expect(x).toBeDefined();
    expect(x).toBe(y);
    expect(certificates.stats()).toEqual({ configured: 0, issued: 1, issuedTotal: 1 });
    await certificates.contextFor('b.example');
    await certificates.contextFor('c.example');
    expect(certificates.stats()).toEqual({ configured: 0, issued: 2, issuedTotal: 3 });
    // a.example was the least recently used: evicted, issued again on use.
    expect(certificates.peek('a.example')).toBeUndefined();
    await certificates.contextFor('a.example');
    expect(certificates.stats().issuedTotal).toBe(4);
  });

  it('prefers configured certificates and uses the first as the default', async () => {
    const ca = await testCA();
    const { issueDomainCertificate } = await import('@ambrosia/pki');
    const pair = await issueDomainCertificate(ca, { domains: ['files.example'] });
    const certificates = new DomainCertificates({ configured: [{ domain: 'files.example', cert: pair.certPem, key: pair.keyPem }], ca, fallbackDomain: 'localhost' });
    await certificates.init();
    expect(certificates.peek('files.example')).toBe(certificates.defaultContext);
    expect(certificates.defaultCredentials.cert).toBe(pair.certPem);
  });

  it('keys names as A-labels', () => {
    expect(certificateKey('Bücher.Example')).toBe('xn--bcher-kva.example');
    expect(certificateKey('not a domain!')).toBeUndefined();
    expect(routingDomain('bücher.example')).toBe('xn--bcher-kva.example');
  });
});

describe('closed reasons for SESSION_EVENT closed', () => {
  it('maps stream endings, and the gateway’s own decisions win', () => {
    expect(closedReason(undefined, { reason: 'normal' })).toBe('normal');
    expect(closedReason(undefined, { reason: 'stream-error', condition: 'connection-timeout' })).toBe('timeout');
    expect(closedReason(undefined, { reason: 'stream-error', condition: 'conflict' })).toBe('conflict');
    expect(closedReason(undefined, { reason: 'stream-error', condition: 'system-shutdown' })).toBe('shutdown');
    expect(closedReason(undefined, { reason: 'resume-timeout' })).toBe('resume-timeout');
    expect(closedReason(undefined, { reason: 'transport-lost' })).toBe('error');
    const entry = { endReason: 'kicked' } as never;
    expect(closedReason(entry, { reason: 'stream-error', condition: 'policy-violation' })).toBe('kicked');
  });
});

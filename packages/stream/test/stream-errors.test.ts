// One transcript per stream error the stream can raise (RFC 6120 §4.9.3), plus the header rules
// (RFC 6120 §4.7, §4.8). When the error comes before we sent a header, ours goes first
// (RFC 6120 §4.9.1.2).

import { describe, expect, it } from 'vitest';
import {
  CLIENT_HEADER,
  DOMAIN,
  FEATURES_STARTTLS,
  Harness,
  boundHarness,
  serverHeader,
  streamError,
} from './helpers.js';

const NS = "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'";

async function opened(): Promise<Harness> {
  const h = await Harness.create();
  await h.exchange(CLIENT_HEADER, serverHeader() + FEATURES_STARTTLS);
  return h;
}

describe('stream header', () => {
  it('host-unknown: a domain this gateway does not serve', async () => {
    const h = await Harness.create({ options: { defaultDomain: 'gw.example.net' } });
    await h.exchange(
      `<stream:stream ${NS} to='nowhere.example' version='1.0'>`,
      serverHeader({ from: 'gw.example.net' }) + streamError('host-unknown', 'this server does not serve the requested domain'),
    );
    expect(h.transport.closed).toBe(true);
    expect(h.closedInfo).toEqual({ reason: 'stream-error', condition: 'host-unknown', detail: 'this server does not serve the requested domain' });
  });

  it("host-unknown: no 'to' at all (RFC 6120 §4.7.2 MUST, §4.9.1.3); our header then has no 'from'", async () => {
    const h = await Harness.create();
    await h.exchange(
      `<stream:stream ${NS} version='1.0'>`,
      serverHeader({ from: undefined }) + streamError('host-unknown', "a 'to' attribute naming the domain is required"),
    );
  });

  it("improper-addressing: a 'to' that is not a domain", async () => {
    const h = await Harness.create();
    await h.exchange(
      `<stream:stream ${NS} to='juliet@example.com' version='1.0'>`,
      serverHeader({ from: undefined }) + streamError('improper-addressing', "the 'to' attribute must be a domain"),
    );
    const h2 = await Harness.create();
    await h2.exchange(
      `<stream:stream ${NS} to='exa mple.com' version='1.0'>`,
      serverHeader({ from: undefined }) + streamError('improper-addressing', "the 'to' attribute must be a domain"),
    );
  });

  it('see-other-host: the domain is served by another host', async () => {
    const h = await Harness.create();
    await h.exchange(
      `<stream:stream ${NS} to='moved.example' version='1.0'>`,
      serverHeader({ from: 'moved.example' }) +
        '<stream:error xmlns:stream="http://etherx.jabber.org/streams"><see-other-host xmlns="urn:ietf:params:xml:ns:xmpp-streams">other.example:5222</see-other-host></stream:error></stream:stream>',
    );
  });

  it('invalid-namespace: the stream element outside the streams namespace', async () => {
    const h = await Harness.create();
    await h.exchange(
      `<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong' to='${DOMAIN}' version='1.0'>`,
      serverHeader({ from: undefined }) + streamError('invalid-namespace', 'the stream element must be qualified by http://etherx.jabber.org/streams'),
    );
  });

  it('invalid-namespace: a content namespace other than jabber:client', async () => {
    const h = await Harness.create();
    await h.exchange(
      `<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='${DOMAIN}' version='1.0'>`,
      serverHeader({ from: undefined }) + streamError('invalid-namespace', 'the default namespace must be jabber:client'),
    );
  });

  it('bad-format: a root element other than <stream/>', async () => {
    const h = await Harness.create();
    await h.exchange(
      `<stream:features ${NS} to='${DOMAIN}' version='1.0'>`,
      serverHeader({ from: undefined }) + streamError('bad-format', "the stream root element must be 'stream'"),
    );
  });

  it('unsupported-version: no version means 0.9, which is not supported (RFC 6120 §4.7.5)', async () => {
    const h = await Harness.create();
    await h.exchange(
      `<stream:stream ${NS} to='${DOMAIN}'>`,
      serverHeader({ from: undefined }) + streamError('unsupported-version', 'XMPP 1.0 is required; a stream without version means 0.9'),
    );
    const h2 = await Harness.create();
    await h2.exchange(`<stream:stream ${NS} to='${DOMAIN}' version='0.9'>`, serverHeader({ from: undefined }) + streamError('unsupported-version', 'XMPP 1.0 is required'));
    const h3 = await Harness.create();
    await h3.exchange(`<stream:stream ${NS} to='${DOMAIN}' version='one'>`, serverHeader({ from: undefined }) + streamError('unsupported-version', 'malformed version'));
  });

  it('a higher version is answered with 1.0, the lower of the two (RFC 6120 §4.7.5 rule 2)', async () => {
    const h = await Harness.create();
    await h.exchange(`<stream:stream ${NS} to='${DOMAIN}' version='2.3'>`, serverHeader() + FEATURES_STARTTLS);
    await h.exchange(`<stream:stream ${NS} to='${DOMAIN}' version='01.00'>`, '');
  });

  it("echoes xml:lang and the client's bare 'from' (RFC 6120 §4.7.2, §4.7.4)", async () => {
    const h = await Harness.create();
    await h.exchange(
      `<stream:stream ${NS} to='Example.COM' from='Juliet@example.com/x' xml:lang='de-CH' version='1.0'>`,
      serverHeader({ to: 'juliet@example.com', lang: 'de-CH' }) + FEATURES_STARTTLS,
    );
    const h2 = await Harness.create();
    await h2.exchange(`<stream:stream ${NS} to='${DOMAIN}' xml:lang='not a tag' version='1.0'>`, serverHeader() + FEATURES_STARTTLS);
  });

  it("not-authorized: a restart naming another domain than the first header", async () => {
    const h = await Harness.create({ tls: { channelBindings: {} }, resolveDomain: () => ({ kind: 'served' }) });
    await h.send(CLIENT_HEADER);
    h.transport.take();
    await h.exchange(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0juliet\0r0m30myr0m30').toString('base64')}</auth>`,
      '<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>',
    );
    await h.exchange(
      `<stream:stream ${NS} to='other.example' version='1.0'>`,
      serverHeader() + streamError('not-authorized', "the 'to' attribute must stay the same across stream restarts"),
    );
  });
});

describe('errors from the XML parser', () => {
  it('not-well-formed, before any header: our header goes first', async () => {
    const h = await Harness.create({ options: { defaultDomain: DOMAIN } });
    await h.exchange('<<<', serverHeader() + streamError('not-well-formed'));
  });

  it('not-well-formed: mismatched tags in a stanza', async () => {
    const h = await opened();
    await h.exchange('<foo></bar>', streamError('not-well-formed'));
  });

  it('restricted-xml: a comment (RFC 6120 §11.1)', async () => {
    const h = await opened();
    await h.exchange('<!-- hello -->', streamError('restricted-xml'));
  });

  it('restricted-xml: a DOCTYPE before the header', async () => {
    const h = await Harness.create();
    await h.exchange('<!DOCTYPE lol [<!ENTITY lol "lol">]>', serverHeader({ from: undefined }) + streamError('restricted-xml'));
  });

  it('bad-namespace-prefix: an unbound prefix', async () => {
    const h = await opened();
    await h.exchange('<foo:bar/>', streamError('bad-namespace-prefix'));
  });

  it('unsupported-encoding: UTF-16', async () => {
    const h = await Harness.create();
    await h.send(Buffer.from('\ufeff<stream:stream>', 'utf16le'));
    await h.expect(serverHeader({ from: undefined }) + streamError('unsupported-encoding'));
  });

  it('policy-violation: a stanza beyond the pre-authentication budget (8 KiB)', async () => {
    const h = await opened();
    await h.exchange(`<message><body>${'x'.repeat(9000)}</body></message>`, streamError('policy-violation'));
  });
});

describe('stream errors raised by the gateway', () => {
  it('system-shutdown and see-other-host when draining', async () => {
    const h = await opened();
    h.stream.shutdown();
    await h.expect(streamError('system-shutdown'));
    const h2 = await opened();
    h2.stream.shutdown('gw2.example.com:5222');
    await h2.expect('<stream:error xmlns:stream="http://etherx.jabber.org/streams"><see-other-host xmlns="urn:ietf:params:xml:ns:xmpp-streams">gw2.example.com:5222</see-other-host></stream:error></stream:stream>');
    expect(h2.closedInfo).toMatchObject({ reason: 'stream-error', condition: 'see-other-host' });
  });

  it('conflict when another session takes the resource', async () => {
    const h = await boundHarness();
    h.stream.replaced();
    await h.expect(streamError('conflict', 'replaced by a new connection for this resource'));
    expect(h.closedInfo).toMatchObject({ reason: 'stream-error', condition: 'conflict' });
  });

  it('reset when the account changed', async () => {
    const h = await boundHarness();
    h.stream.reset();
    await h.expect(streamError('reset'));
  });

  it('close() without an error closes cleanly, once', async () => {
    const h = await boundHarness();
    h.stream.close();
    h.stream.close();
    h.stream.transportClosed();
    await h.expect('</stream:stream>');
    expect(h.closedCount).toBe(1);
    expect(h.closedInfo).toEqual({ reason: 'closed' });
  });
});

describe('first-level elements', () => {
  it('unsupported-stanza-type: an unknown element in jabber:client', async () => {
    const h = await boundHarness();
    await h.exchange('<foo/>', streamError('unsupported-stanza-type'));
  });

  it('unsupported-stanza-type: an element in a namespace the server does not know (RFC 6120 §4.9.3.24)', async () => {
    const h = await opened();
    await h.exchange("<query xmlns='jabber:iq:roster'/>", streamError('unsupported-stanza-type'));
  });

  it('a stream error from the client ends the stream', async () => {
    const h = await boundHarness();
    await h.exchange(
      "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
      '</stream:stream>',
    );
    expect(h.closedInfo).toEqual({ reason: 'peer-error', condition: 'conflict' });
  });

  it('whitespace keepalives are accepted at every stage', async () => {
    const h = await opened();
    await h.exchange('  \n\t ', '');
    const b = await boundHarness();
    await b.exchange(' \n ', '');
    expect(b.stream.state).toBe('established');
  });

  it('a self-closing stream header is answered, then closed', async () => {
    const h = await Harness.create();
    await h.exchange(`<stream:stream ${NS} to='${DOMAIN}' version='1.0'/>`, serverHeader() + FEATURES_STARTTLS + '</stream:stream>');
    expect(h.closedInfo).toEqual({ reason: 'normal' });
  });
});

describe('connection-timeout', () => {
  it('when negotiation is not finished within the deadline', async () => {
    const h = await opened();
    h.clock.advance(59_999);
    await h.expect('');
    h.clock.advance(1);
    await h.expect(streamError('connection-timeout', 'stream negotiation took too long'));
  });

  it('when nothing at all arrives', async () => {
    const h = await Harness.create({ options: { negotiationTimeoutMs: 5000, defaultDomain: DOMAIN } });
    h.clock.advance(5000);
    await h.expect(serverHeader() + streamError('connection-timeout', 'stream negotiation took too long'));
  });
});

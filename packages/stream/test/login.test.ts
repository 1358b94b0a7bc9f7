// Full logins as byte transcripts: STARTTLS, SASL (SCRAM with XEP-0474, PLAIN, failures),
// binding, and the same login fed split at every byte.

import { describe, expect, it } from 'vitest';
import {
  CLIENT_HEADER,
  CLIENT_NONCE,
  DOMAIN,
  FEATURES_BOUND,
  FEATURES_STARTTLS,
  Harness,
  LIMITS_PREAUTH,
  MECHANISMS,
  PASSWORD,
  ScramClient,
  b64,
  credentials,
  downgradeHash,
  featuresSasl,
  serverHeader,
  streamError,
  testAuthenticator,
  unb64,
} from './helpers.js';
import type { StreamAuthenticator } from '../src/index.js';

const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

describe('login over STARTTLS', () => {
  it('negotiates TLS, SCRAM-SHA-1 (with XEP-0474 downgrade protection) and binding', async () => {
    const h = await Harness.create();
    // RFC 6120 §5.3.1: TLS is mandatory-to-negotiate, so STARTTLS is the only feature.
    await h.exchange(CLIENT_HEADER, serverHeader() + FEATURES_STARTTLS);
    await h.exchange("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", '<proceed xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>');
    expect(h.transport.startTlsCalls).toBe(1);
    h.stream.tlsEstablished({ channelBindings: {} });
    expect(h.stream.secure).toBe(true);

    await h.exchange(CLIENT_HEADER, serverHeader() + featuresSasl());
    const scram = new ScramClient('SHA-1', 'juliet', PASSWORD, CLIENT_NONCE);
    const { challenge } = await h.exchange(
      `<auth xmlns='${SASL}' mechanism='SCRAM-SHA-1'>${b64(scram.first())}</auth>`,
      `<challenge xmlns="${SASL}">{{challenge}}</challenge>`,
    );
    const serverFirst = unb64(challenge!);
    // XEP-0474: the server's hash covers exactly the mechanisms we were offered (no XEP-0440 here).
    expect(ScramClient.attributes(serverFirst).h).toBe(downgradeHash('SHA-1', MECHANISMS, undefined));
    const { success } = await h.exchange(
      `<response xmlns='${SASL}'>${b64(scram.final(serverFirst))}</response>`,
      `<success xmlns="${SASL}">{{success}}</success>`,
    );
    expect(scram.verifyServerFinal(unb64(success!))).toBe(true);

    await h.exchange(CLIENT_HEADER, serverHeader() + FEATURES_BOUND);
    await h.exchange(
      "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>",
      `<iq type="result" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>juliet@${DOMAIN}/balcony</jid></bind></iq>`,
    );
    expect(h.stream.state).toBe('established');
    expect(h.stream.jid?.toString()).toBe(`juliet@${DOMAIN}/balcony`);
    expect(h.events).toEqual([`bound juliet@${DOMAIN}/balcony`]);

    await h.exchange('</stream:stream>', '</stream:stream>');
    expect(h.transport.closed).toBe(true);
    expect(h.closedInfo).toEqual({ reason: 'normal' });
    expect(h.closedCount).toBe(1);
  });

  it('discards everything pipelined after <starttls/> until the TLS handshake completes', async () => {
    const h = await Harness.create({ autoResolve: true });
    await h.exchange(CLIENT_HEADER, serverHeader() + FEATURES_STARTTLS);
    // The injection of CVE-2011-1431: plaintext commands riding behind <starttls/>.
    await h.exchange(
      "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><iq type='get' id='evil'><query xmlns='jabber:iq:roster'/></iq>" + CLIENT_HEADER,
      '<proceed xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>',
    );
    // More plaintext before the handshake completes is discarded too.
    await h.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>");
    expect(h.transport.take()).toBe('');
    h.stream.tlsEstablished({ channelBindings: {} });
    // The stream starts afresh: the injected header and stanza never happened.
    await h.exchange(CLIENT_HEADER, serverHeader() + featuresSasl());
    expect(h.stanzas).toHaveLength(0);
    expect(h.stream.state).toBe('negotiating');
  });

  it('answers SASL before TLS with encryption-required, then gives up after the retry budget', async () => {
    const h = await Harness.create();
    await h.exchange(CLIENT_HEADER, serverHeader() + FEATURES_STARTTLS);
    for (let i = 0; i < 4; i++) {
      await h.exchange(`<auth xmlns='${SASL}' mechanism='PLAIN'>${b64('\0juliet\0' + PASSWORD)}</auth>`, `<failure xmlns="${SASL}"><encryption-required/></failure>`);
    }
    await h.exchange(
      `<auth xmlns='${SASL}' mechanism='PLAIN'>${b64('\0juliet\0' + PASSWORD)}</auth>`,
      `<failure xmlns="${SASL}"><encryption-required/></failure>` + streamError('policy-violation', 'too many failed negotiation attempts'),
    );
  });

  it('offers SASL beside optional STARTTLS when TLS is not required', async () => {
    const h = await Harness.create({ options: { requireTls: false } });
    await h.exchange(
      CLIENT_HEADER,
      serverHeader() +
        `<stream:features xmlns:stream="http://etherx.jabber.org/streams"><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/><mechanisms xmlns="${SASL}"><mechanism>SCRAM-SHA-512</mechanism><mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms>${LIMITS_PREAUTH}</stream:features>`,
    );
    // PLAIN is not offered without TLS, and refused if tried (RFC 6120 §6.5.3).
    await h.exchange(`<auth xmlns='${SASL}' mechanism='PLAIN'>${b64('\0juliet\0' + PASSWORD)}</auth>`, `<failure xmlns="${SASL}"><encryption-required/></failure>`);
    // STARTTLS after SASL began is refused and the stream closed (RFC 6120 §5.4.2.2).
    await h.exchange(
      "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
      '<failure xmlns="urn:ietf:params:xml:ns:xmpp-tls"/></stream:stream>',
    );
    expect(h.transport.closed).toBe(true);
  });

  it('closes when TLS is required but the transport cannot negotiate it', async () => {
    const h = await Harness.create();
    h.transport.canStartTls = false;
    await h.exchange(CLIENT_HEADER, serverHeader() + streamError('policy-violation', 'encryption is required and cannot be negotiated on this connection'));
  });
});

describe('SASL', () => {
  async function secure(): Promise<Harness> {
    const h = await Harness.create({ tls: { channelBindings: {} } });
    await h.exchange(CLIENT_HEADER, serverHeader() + featuresSasl());
    return h;
  }

  it('PLAIN succeeds over TLS and the stream restarts with post-authentication features', async () => {
    const h = await secure();
    await h.exchange(`<auth xmlns='${SASL}' mechanism='PLAIN'>${b64('\0juliet\0' + PASSWORD)}</auth>`, `<success xmlns="${SASL}"/>`);
    await h.exchange(CLIENT_HEADER, serverHeader() + FEATURES_BOUND);
  });

  it('reports failures, counts them and closes with policy-violation when retries are exhausted', async () => {
    const h = await secure();
    for (let i = 0; i < 4; i++) {
      await h.exchange(`<auth xmlns='${SASL}' mechanism='PLAIN'>${b64('\0juliet\0wrong')}</auth>`, `<failure xmlns="${SASL}"><not-authorized/></failure>`);
    }
    await h.exchange(
      `<auth xmlns='${SASL}' mechanism='PLAIN'>${b64('\0juliet\0wrong')}</auth>`,
      `<failure xmlns="${SASL}"><not-authorized/></failure>` + streamError('policy-violation', 'too many failed authentication attempts'),
    );
    expect(h.closedInfo).toMatchObject({ reason: 'stream-error', condition: 'policy-violation' });
  });

  it('handles <abort/>, unknown mechanisms, bad base64 and a response without an exchange', async () => {
    const h = await secure();
    await h.exchange(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-1'/>`, `<challenge xmlns="${SASL}"/>`);
    await h.exchange(`<abort xmlns='${SASL}'/>`, `<failure xmlns="${SASL}"><aborted/></failure>`);
    await h.exchange(`<auth xmlns='${SASL}' mechanism='X-UNKNOWN'>=</auth>`, `<failure xmlns="${SASL}"><invalid-mechanism/></failure>`);
    await h.exchange(`<auth xmlns='${SASL}' mechanism='PLAIN'>%%%</auth>`, `<failure xmlns="${SASL}"><incorrect-encoding/><text xmlns="${SASL}">invalid base64</text></failure>`);
    await h.exchange(`<response xmlns='${SASL}'>=</response>`, `<failure xmlns="${SASL}"><malformed-request/><text xmlns="${SASL}">no exchange in progress</text></failure>`);
    expect(h.stream.state).toBe('negotiating');
  });

  it('bounds negotiation chatter that never authenticates: aborts and early <enable/>s count', async () => {
    const h = await secure();
    for (let i = 0; i < 2; i++) await h.exchange(`<abort xmlns='${SASL}'/>`, `<failure xmlns="${SASL}"><aborted/></failure>`);
    for (let i = 0; i < 2; i++) {
      await h.exchange("<enable xmlns='urn:xmpp:sm:3'/>", '<failed xmlns="urn:xmpp:sm:3"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>');
    }
    await h.exchange(
      `<abort xmlns='${SASL}'/>`,
      `<failure xmlns="${SASL}"><aborted/></failure>` + streamError('policy-violation', 'too many failed negotiation attempts'),
    );
  });

  it('holds at most two pre-authentication stanzas worth of input while SASL runs', async () => {
    // An authenticator whose answers wait until released (a slow credential store).
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const real = testAuthenticator({ juliet: await credentials() });
    const slow: StreamAuthenticator = {
      offeredMechanisms: (offer) => real.offeredMechanisms(offer),
      session(connection) {
        const inner = real.session(connection);
        return { ...inner, start: async (mechanism, data) => (await gate, inner.start(mechanism, data)) };
      },
    };
    const h = await Harness.create({ tls: { channelBindings: {} }, authenticator: slow });
    await h.exchange(CLIENT_HEADER, serverHeader() + featuresSasl());
    h.stream.receive(Buffer.from(`<auth xmlns='${SASL}' mechanism='PLAIN'>${b64('\0juliet\0' + PASSWORD)}</auth>`));
    expect(h.stream.busy).toBe(true);
    h.stream.receive(Buffer.alloc(16_384, 0x20));
    expect(h.transport.take()).toBe('');
    h.stream.receive(Buffer.alloc(1, 0x20));
    expect(h.transport.take()).toBe(streamError('policy-violation', 'too much data sent while the server was busy'));
    release();
  });

  it('refuses stanzas before authentication with not-authorized', async () => {
    const h = await secure();
    await h.exchange("<message to='romeo@example.net'><body>hi</body></message>", streamError('not-authorized', 'authenticate first'));
    expect(h.stanzas).toHaveLength(0);
  });

  it('refuses what was pipelined behind the SASL exchange on the restarted stream', async () => {
    const h = await secure();
    // The client does not wait for <success/>: the bytes behind its <auth/> belong to the new
    // stream, which must start with a header — an <iq/> there is refused, never routed.
    await h.exchange(
      `<auth xmlns='${SASL}' mechanism='PLAIN'>${b64('\0juliet\0' + PASSWORD)}</auth><iq type='get' id='x'><query xmlns='jabber:iq:roster'/></iq>`,
      `<success xmlns="${SASL}"/>` + serverHeader() + streamError('invalid-namespace', 'the stream element must be qualified by http://etherx.jabber.org/streams'),
    );
    expect(h.stanzas).toHaveLength(0);
  });

  it('redirects a user the userRedirect hook sends elsewhere, after authentication', async () => {
    const h = await Harness.create({ tls: { channelBindings: {} }, userRedirect: (jid) => (jid.local === 'juliet' ? 'xmpp2.example.com:5222' : undefined) });
    await h.exchange(CLIENT_HEADER, serverHeader() + featuresSasl());
    await h.exchange(`<auth xmlns='${SASL}' mechanism='PLAIN'>${b64('\0juliet\0' + PASSWORD)}</auth>`, `<success xmlns="${SASL}"/>`);
    await h.exchange(CLIENT_HEADER, serverHeader() + streamError('see-other-host').replace('<see-other-host xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>', '<see-other-host xmlns="urn:ietf:params:xml:ns:xmpp-streams">xmpp2.example.com:5222</see-other-host>'));
    expect(h.closedInfo).toMatchObject({ reason: 'stream-error', condition: 'see-other-host' });
  });
});

describe('one login split at every byte', () => {
  // With fixed nonces and salt the whole client side is known in advance, so it can be sent in
  // one go (the stream holds what follows each asynchronous step) and split anywhere.
  async function clientBytes(): Promise<Buffer> {
    const scram = new ScramClient('SHA-1', 'juliet', PASSWORD, CLIENT_NONCE);
    // Learn the server-first-message once (it is deterministic with fixed nonces and salt).
    const probe = await Harness.create({ tls: { channelBindings: {} } });
    await probe.exchange(CLIENT_HEADER, serverHeader() + featuresSasl());
    const { challenge } = await probe.exchange(
      `<auth xmlns='${SASL}' mechanism='SCRAM-SHA-1'>${b64(scram.first())}</auth>`,
      `<challenge xmlns="${SASL}">{{challenge}}</challenge>`,
    );
    const final = scram.final(unb64(challenge!));
    return Buffer.from(
      CLIENT_HEADER +
        `<auth xmlns='${SASL}' mechanism='SCRAM-SHA-1'>${b64(scram.first())}</auth>` +
        `<response xmlns='${SASL}'>${b64(final)}</response>` +
        CLIENT_HEADER +
        "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>b\u00e4lcony \u{1F319}</resource></bind></iq>" +
        "<enable xmlns='urn:xmpp:sm:3'/>" +
        "<message to='romeo@example.net' id='m1'><body>h\u00e9llo \u{1F31F}</body></message>" +
        "<r xmlns='urn:xmpp:sm:3'/>",
      'utf8',
    );
  }

  const expected =
    serverHeader() + featuresSasl() +
    `<challenge xmlns="${SASL}">{{*}}</challenge>` +
    `<success xmlns="${SASL}">{{*}}</success>` +
    serverHeader() + FEATURES_BOUND +
    `<iq type="result" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>juliet@${DOMAIN}/b\u00e4lcony \u{1F319}</jid></bind></iq>` +
    '<enabled xmlns="urn:xmpp:sm:3"/>' +
    '<a xmlns="urn:xmpp:sm:3" h="1"/>';

  it('gives the same transcript for every split point', async () => {
    const input = await clientBytes();
    const whole = await Harness.create({ tls: { channelBindings: {} } });
    await whole.send(input);
    await whole.expect(expected);
    expect(whole.stanzas.map((s) => s.xml)).toEqual([
      `<message to="romeo@example.net" id="m1" xmlns="jabber:client" from="juliet@${DOMAIN}/b\u00e4lcony \u{1F319}"><body>h\u00e9llo \u{1F31F}</body></message>`,
    ]);
    for (let split = 1; split < input.length; split++) {
      const h = await Harness.create({ tls: { channelBindings: {} } });
      h.stream.receive(input.subarray(0, split));
      await h.send(input.subarray(split));
      await h.expect(expected);
      expect(h.stanzas.map((s) => s.xml), `split at ${split}`).toEqual(whole.stanzas.map((s) => s.xml));
      await h.exchange('</stream:stream>', '</stream:stream>');
      expect(h.closedInfo, `split at ${split}`).toEqual({ reason: 'normal' });
    }
  });

  it('gives the same transcript fed one byte at a time', async () => {
    const input = await clientBytes();
    const h = await Harness.create({ tls: { channelBindings: {} } });
    for (let i = 0; i < input.length; i++) h.stream.receive(input.subarray(i, i + 1));
    await h.expect(expected);
    expect(h.stanzas).toHaveLength(1);
  });
});

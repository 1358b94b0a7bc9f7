// Resource binding (RFC 6120 §7), the legacy session (RFC 3921 §3) and what happens to client
// stanzas afterwards: 'from' stamping (RFC 6120 §8.1.2.1), 'to' normalisation, local answers.

import { StanzaError } from '@ambrosia/errors';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_HEADER,
  DOMAIN,
  FEATURES_BOUND,
  FULL_JID,
  Harness,
  PASSWORD,
  authenticate,
  b64,
  boundHarness,
  featuresSasl,
  serverHeader,
  streamError,
} from './helpers.js';

const BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** Authenticated with PLAIN over direct TLS, at the post-authentication features. */
async function authenticated(opts: Parameters<typeof Harness.create>[0] = {}): Promise<Harness> {
  const h = await Harness.create({ tls: { channelBindings: {} }, ...opts });
  await authenticate(h);
  return h;
}

function stanzaErrorXml(name: string, id: string, type: string, condition: string, text?: string, extra = ''): string {
  const textEl = text === undefined ? '' : `<text xmlns="${STANZAS}">${text}</text>`;
  return `<${name} xmlns="jabber:client" id="${id}"${extra} type="error"><error type="${type}"><${condition} xmlns="${STANZAS}"/>${textEl}</error></${name}>`;
}

describe('resource binding', () => {
  it('generates a random URL-safe resource of at least 64 bits when none is requested (§7.6)', async () => {
    const h = await authenticated();
    const { resource } = await h.exchange(
      `<iq type='set' id='b1'><bind xmlns='${BIND}'/></iq>`,
      `<iq type="result" id="b1"><bind xmlns="${BIND}"><jid>juliet@${DOMAIN}/{{resource}}</jid></bind></iq>`,
    );
    expect(resource).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(h.stream.jid?.resource).toBe(resource);
    const other = await authenticated();
    const second = await other.exchange(
      `<iq type='set' id='b1'><bind xmlns='${BIND}'><resource/></bind></iq>`,
      `<iq type="result" id="b1"><bind xmlns="${BIND}"><jid>juliet@${DOMAIN}/{{resource}}</jid></bind></iq>`,
    );
    expect(second.resource).not.toBe(resource);
  });

  it('prepares a requested resource with OpaqueString (non-ASCII spaces become U+0020)', async () => {
    const h = await authenticated();
    await h.exchange(
      `<iq type='set' id='b1'><bind xmlns='${BIND}'><resource>bal\u00a0cony</resource></bind></iq>`,
      `<iq type="result" id="b1"><bind xmlns="${BIND}"><jid>juliet@${DOMAIN}/bal cony</jid></bind></iq>`,
    );
    expect(h.events).toEqual([`bound juliet@${DOMAIN}/bal cony`]);
  });

  it('answers a resource the profile refuses with bad-request (§7.7.2.1), and the client may retry', async () => {
    const h = await authenticated();
    await h.exchange(
      `<iq type='set' id='b1'><bind xmlns='${BIND}'><resource>\ue000</resource></bind></iq>`,
      stanzaErrorXml('iq', 'b1', 'modify', 'bad-request', 'the requested resource is not allowed'),
    );
    await h.exchange(
      `<iq type='set' id='b2'><bind xmlns='${BIND}'><resource>balcony</resource></bind></iq>`,
      `<iq type="result" id="b2"><bind xmlns="${BIND}"><jid>${FULL_JID}</jid></bind></iq>`,
    );
  });

  it('refuses a resource in use when the policy says so (§7.7.2.2, conflict)', async () => {
    const h = await authenticated({ bind: async () => ({ kind: 'conflict' }) });
    await h.exchange(
      `<iq type='set' id='b1'><bind xmlns='${BIND}'><resource>balcony</resource></bind></iq>`,
      stanzaErrorXml('iq', 'b1', 'cancel', 'conflict', 'the resource is in use'),
    );
    expect(h.stream.state).toBe('negotiating');
  });

  it('takes the resource the policy assigns instead (§7.7.2.2, third option)', async () => {
    const h = await authenticated({ bind: async (req) => ({ kind: 'bound', jid: req.jid.withResource('balcony-2') }) });
    await h.exchange(
      `<iq type='set' id='b1'><bind xmlns='${BIND}'><resource>balcony</resource></bind></iq>`,
      `<iq type="result" id="b1"><bind xmlns="${BIND}"><jid>juliet@${DOMAIN}/balcony-2</jid></bind></iq>`,
    );
  });

  it('overrides the old session when the policy kicks it: the old stream gets conflict', async () => {
    const sessions = new Map<string, Harness>();
    const first = await boundHarness();
    sessions.set(FULL_JID, first);
    const second = await authenticated({
      bind: async (req) => {
        sessions.get(req.jid.toString())?.stream.replaced();
        return { kind: 'bound' };
      },
    });
    await second.exchange(
      `<iq type='set' id='b1'><bind xmlns='${BIND}'><resource>balcony</resource></bind></iq>`,
      `<iq type="result" id="b1"><bind xmlns="${BIND}"><jid>${FULL_JID}</jid></bind></iq>`,
    );
    await first.expect(streamError('conflict', 'replaced by a new connection for this resource'));
    expect(first.closedInfo).toMatchObject({ reason: 'stream-error', condition: 'conflict' });
  });

  it('answers a failing bind hook with internal-server-error', async () => {
    const h = await authenticated({ bind: async () => Promise.reject(new Error('registry down')) });
    await h.exchange(`<iq type='set' id='b1'><bind xmlns='${BIND}'/></iq>`, stanzaErrorXml('iq', 'b1', 'cancel', 'internal-server-error'));
  });

  it('allows one resource per stream (§7.6.2.2, not-allowed)', async () => {
    const h = await boundHarness();
    await h.exchange(`<iq type='set' id='b2'><bind xmlns='${BIND}'><resource>again</resource></bind></iq>`, stanzaErrorXml('iq', 'b2', 'cancel', 'not-allowed', 'a resource is already bound to this stream', ` to="${FULL_JID}"`));
  });

  it('refuses binding before authentication with not-authorized', async () => {
    const h = await Harness.create({ tls: { channelBindings: {} } });
    await h.exchange(CLIENT_HEADER, serverHeader() + featuresSasl());
    await h.exchange(`<iq type='set' id='b1'><bind xmlns='${BIND}'/></iq>`, streamError('not-authorized', 'authenticate first'));
  });

  it('refuses stanzas after authentication but before binding with not-authorized (§7.1)', async () => {
    const h = await authenticated();
    await h.exchange("<presence/>", streamError('not-authorized', 'bind a resource first'));
  });

  it('answers a malformed bind request with bad-request', async () => {
    const h = await authenticated();
    await h.exchange(`<iq type='get' id='b1'><bind xmlns='${BIND}'/></iq>`, stanzaErrorXml('iq', 'b1', 'modify', 'bad-request', 'resource binding is an iq of type set with an id'));
  });

  it('answers the RFC 3921 session request with an empty result', async () => {
    const h = await boundHarness();
    await h.exchange(
      "<iq type='set' id='s1' to='example.com'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
      `<iq type="result" id="s1" to="${FULL_JID}"/>`,
    );
    expect(h.stanzas).toHaveLength(0);
  });
});

describe('stanzas from a bound client', () => {
  it("stamps 'from' with the full JID and normalises 'to' (RFC 6120 §8.1.2.1)", async () => {
    const h = await boundHarness();
    await h.exchange("<message to='Romeo@Example.NET/Orchard' id='m1'><body>hi</body></message>", '');
    await h.exchange(`<presence from='juliet@${DOMAIN}'/>`, '');
    await h.exchange(`<iq type='get' id='i1' from='JULIET@example.com/balcony'><query xmlns='jabber:iq:roster'/></iq>`, '');
    expect(h.stanzas.map((s) => s.xml)).toEqual([
      `<message to="romeo@example.net/Orchard" id="m1" xmlns="jabber:client" from="${FULL_JID}"><body>hi</body></message>`,
      `<presence from="${FULL_JID}" xmlns="jabber:client"/>`,
      `<iq type="get" id="i1" from="${FULL_JID}" xmlns="jabber:client"><query xmlns="jabber:iq:roster"/></iq>`,
    ]);
    expect(h.stanzas[0]!.ctx.to?.toString()).toBe('romeo@example.net/Orchard');
    expect(h.stanzas[0]!.ctx.from.toString()).toBe(FULL_JID);
    expect(h.stanzas[1]!.ctx.to).toBeUndefined();
    expect(h.stanzas[0]!.ctx.sessionId).toBe(h.stream.sessionId);
  });

  it("refuses a 'from' that is not the client's own address with invalid-from", async () => {
    const h = await boundHarness();
    await h.exchange("<message from='romeo@example.net' to='juliet@example.com'><body>forged</body></message>", streamError('invalid-from', "the 'from' attribute does not match the bound address"));
    expect(h.stanzas).toHaveLength(0);
    const other = await boundHarness();
    await other.exchange(`<message from='juliet@${DOMAIN}/other'/>`, streamError('invalid-from', "the 'from' attribute does not match the bound address"));
  });

  it('adds the xml:lang the client declared for its stream (RFC 6120 §8.1.5)', async () => {
    const h = await Harness.create({ tls: { channelBindings: {} } });
    const header = CLIENT_HEADER.replace("version='1.0'>", "version='1.0' xml:lang='fr'>");
    await h.exchange(header, serverHeader({ lang: 'fr' }) + featuresSasl());
    await h.exchange(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${b64('\0juliet\0' + PASSWORD)}</auth>`, '<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>');
    await h.exchange(header, serverHeader({ lang: 'fr' }) + FEATURES_BOUND);
    await h.exchange(`<iq type='set' id='b1'><bind xmlns='${BIND}'><resource>balcony</resource></bind></iq>`, `<iq type="result" id="b1"><bind xmlns="${BIND}"><jid>${FULL_JID}</jid></bind></iq>`);
    await h.send("<message id='m1'><body>salut</body></message><message id='m2' xml:lang='en'/>");
    expect(h.stanzas.map((s) => s.xml)).toEqual([
      `<message id="m1" xmlns="jabber:client" from="${FULL_JID}" xml:lang="fr"><body>salut</body></message>`,
      `<message id="m2" xml:lang="en" xmlns="jabber:client" from="${FULL_JID}"/>`,
    ]);
  });

  it("answers an invalid 'to' with jid-malformed, without routing it", async () => {
    const h = await boundHarness();
    await h.exchange("<message to='@broken' id='m1'/>", stanzaErrorXml('message', 'm1', 'modify', 'jid-malformed', "the 'to' address is not a valid JID", ` to="${FULL_JID}" from="@broken"`));
    expect(h.stanzas).toHaveLength(0);
  });

  it('answers iqs without id or with a wrong payload count with bad-request (RFC 6120 §8.2.3)', async () => {
    const h = await boundHarness();
    await h.exchange(
      "<iq type='get' id='i1'/>",
      stanzaErrorXml('iq', 'i1', 'modify', 'bad-request', 'an iq get or set carries exactly one child element', ` to="${FULL_JID}"`),
    );
    await h.exchange(
      "<iq type='chat' id='i2'><query xmlns='jabber:iq:version'/></iq>",
      stanzaErrorXml('iq', 'i2', 'modify', 'bad-request', "an iq needs an 'id' and a 'type' of get, set, result or error", ` to="${FULL_JID}"`),
    );
    expect(h.stanzas).toHaveLength(0);
  });

  it('sends the error of a rejected stanza back to the client', async () => {
    const h = await boundHarness({ autoResolve: false });
    await h.send("<message to='nobody@example.org' id='m1'><body>x</body></message><iq type='get' id='i1' to='example.org'><query xmlns='jabber:iq:version'/></iq><message type='error' id='m2'/>");
    expect(h.stanzas).toHaveLength(3);
    h.stanzas[0]!.reject(new StanzaError('service-unavailable', { text: 'no service for example.org' }));
    h.stanzas[1]!.reject(new Error('boom'));
    h.stanzas[2]!.reject(new StanzaError('bad-request'));
    await h.expect(
      `<message xmlns="jabber:client" id="m1" to="${FULL_JID}" from="nobody@example.org" type="error"><error type="cancel"><service-unavailable xmlns="${STANZAS}"/><text xmlns="${STANZAS}">no service for example.org</text></error></message>` +
        `<iq xmlns="jabber:client" id="i1" to="${FULL_JID}" from="example.org" type="error"><error type="cancel"><internal-server-error xmlns="${STANZAS}"/></error></iq>`,
    );
  });

  it('a stanza hook that throws synchronously is treated like a rejection', async () => {
    const h = await boundHarness({
      onStanza: () => {
        throw new StanzaError('forbidden');
      },
    });
    await h.exchange("<message id='m1'/>", `<message xmlns="jabber:client" id="m1" to="${FULL_JID}" type="error"><error type="auth"><forbidden xmlns="${STANZAS}"/></error></message>`);
    expect(h.stream.state).toBe('established');
  });
});

#!/usr/bin/env node
// A third-party client (@xmpp/client from npm) doing what a person does in a chat app: log in
// over STARTTLS, send initial presence, fetch the roster, add a contact, exchange messages.
// Run in its own process so that NODE_EXTRA_CA_CERTS can make it trust the test's CA, as a
// user's machine trusts a real one. Prints one JSON line per event; exits 0 when done.
//   XMPP_SERVICE=xmpp://127.0.0.1:5222 XMPP_DOMAIN=localhost XMPP_USER=alice XMPP_PASSWORD=...
//   PEER=bob@localhost COUNT=3 [RESOURCE=phone] node xmpp-js-chat.mjs
import { client, xml } from '@xmpp/client';

const env = process.env;
const count = Number(env.COUNT ?? '3');
const peer = env.PEER;
const deadline = setTimeout(() => fail(new Error('timed out')), Number(env.TIMEOUT_MS ?? '20000'));
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

function fail(e) {
  // Once done, a push still arriving while the connection closes is not a failure.
  if (done) return;
  print({ event: 'error', message: String(e?.message ?? e), condition: e?.condition });
  process.exit(1);
}

const xmpp = client({
  service: env.XMPP_SERVICE,
  domain: env.XMPP_DOMAIN,
  username: env.XMPP_USER,
  password: env.XMPP_PASSWORD,
  resource: env.RESOURCE ?? 'e2e',
});
xmpp.reconnect.stop();
xmpp.on('error', fail);

const received = [];
let sent = false;
let done = false;
async function finishIfDone() {
  if (done || !sent || received.length < count) return;
  done = true;
  clearTimeout(deadline);
  print({ event: 'done', received });
  // Give the server a moment to see our acks before we say goodbye.
  await xmpp.stop();
  process.exit(0);
}

xmpp.on('stanza', (stanza) => {
  if (stanza.is('message') && stanza.getChildText('body') !== null) {
    const from = String(stanza.attrs.from).split('/')[0];
    print({ event: 'message', from, body: stanza.getChildText('body'), type: stanza.attrs.type ?? 'normal' });
    if (from === peer) received.push(stanza.getChildText('body'));
    void finishIfDone();
  } else if (stanza.is('presence') && stanza.attrs.type === 'subscribe') {
    print({ event: 'subscribe', from: stanza.attrs.from });
    void xmpp.send(xml('presence', { to: stanza.attrs.from, type: 'subscribed' }));
  } else if (stanza.is('presence')) {
    print({ event: 'presence', from: stanza.attrs.from, type: stanza.attrs.type ?? 'available' });
  }
});

xmpp.on('online', async (address) => {
  try {
    print({ event: 'online', jid: address.toString() });
    await xmpp.send(xml('presence', {}, xml('priority', {}, '1')));
    const roster = await xmpp.iqCaller.get(xml('query', 'jabber:iq:roster'));
    print({ event: 'roster', items: roster.getChildren('item').map((i) => i.attrs.jid) });
    if (peer) {
      await xmpp.iqCaller.set(xml('query', 'jabber:iq:roster', xml('item', { jid: peer, name: 'peer' })));
      await xmpp.send(xml('presence', { to: peer, type: 'subscribe' }));
      const after = await xmpp.iqCaller.get(xml('query', 'jabber:iq:roster'));
      print({ event: 'roster', items: after.getChildren('item').map((i) => i.attrs.jid) });
      for (let i = 1; i <= count; i++) {
        await xmpp.send(xml('message', { to: peer, type: 'chat', id: `m${i}` }, xml('body', {}, `${env.XMPP_USER} says ${i}`)));
      }
      print({ event: 'sent', count });
    }
    sent = true;
    await finishIfDone();
  } catch (e) {
    fail(e);
  }
});

xmpp.start().catch(fail);

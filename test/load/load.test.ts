// The load client against a real Prosody: if these pass, the figures the benchmarks print come
// from sessions that really logged in and messages that really crossed the server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Element } from '@ambrosia/xml';
import { startProsody, type RunningProsody } from '../prosody/src/index.js';
import { Fleet, SaltedPasswordCache, XmppConnection, LoginError, processFigures, type Account, type LoadTarget } from './src/index.js';

const accounts: Account[] = Array.from({ length: 10 }, (_, i) => ({ username: `user${i}`, password: `secret-${i}` }));

describe('load client against Prosody', () => {
  let prosody: RunningProsody;
  let cache: SaltedPasswordCache;
  const target = (tls: 'starttls' | 'none'): LoadTarget => ({ host: prosody.host, port: prosody.port, domain: prosody.domain, tls, caPem: prosody.caPem });

  beforeAll(async () => {
    prosody = await startProsody({ accounts });
    cache = new SaltedPasswordCache();
  });
  afterAll(async () => {
    await prosody?.stop();
  });

  it('logs in 10 clients over STARTTLS with SCRAM-SHA-1 and exchanges messages without loss', async () => {
    const fleet = new Fleet(target('starttls'), cache);
    const opened = await fleet.open(accounts, { presence: true, concurrency: 5 });
    expect(opened).toMatchObject({ opened: 10, failed: 0 });
    expect(fleet.sessions[3]!.jid).toBe('user3@localhost/load');
    const result = await fleet.exchange({
      pairs: [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]],
      warmupMs: 100,
      durationMs: 700,
      window: 3,
    });
    expect(result.sent).toBeGreaterThan(5 * 3);
    expect(result.received).toBe(result.sent);
    expect(result.lost).toBe(0);
    expect(result.outOfOrder).toBe(0);
    expect(result.errors).toBe(0);
    expect(result.measured).toBeGreaterThan(0);
    expect(result.latencies.length).toBe(result.measured);
    await fleet.closeAll();
    expect(fleet.openCount).toBe(0);
  });

  it('logs in without TLS where the server allows it, and the PBKDF2 result is reused', async () => {
    const fleet = new Fleet(target('none'), cache);
    const before = cache.misses;
    const opened = await fleet.open(accounts.slice(0, 4));
    expect(opened.opened).toBe(4);
    expect(cache.misses).toBe(before); // the first test derived these already
    await fleet.closeAll();
  });

  it('delivers a message with its body intact, and answers the server\'s ping', async () => {
    const received: Element[] = [];
    const options = { cache, onStanza: (s: Element) => received.push(s) };
    const alice = await XmppConnection.login(target('starttls'), accounts[0]!, { ...options, presence: true });
    const bob = await XmppConnection.login(target('starttls'), accounts[1]!, { ...options, presence: true, resource: 'phone' });
    expect(bob.jid).toBe('user1@localhost/phone');
    alice.send(`<message to='user1@localhost' type='chat' id='x1'><body>héllo &amp; &lt;bye&gt;</body></message>`);
    const deadline = Date.now() + 5000;
    while (!received.some((s) => s.name === 'message') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const message = received.find((s) => s.name === 'message')!;
    expect(message.attrs.from).toBe('user0@localhost/load');
    expect(message.getChildText('body')).toBe('héllo & <bye>');
    await Promise.all([alice.close(), bob.close()]);
    expect(alice.isOpen || bob.isOpen).toBe(false);
  });

  it('reports a wrong password as a SASL failure, and an untrusted certificate as a TLS failure', async () => {
    await expect(XmppConnection.login(target('none'), { username: 'user0', password: 'wrong' }, { cache })).rejects.toThrow(/^sasl: /);
    const strict = { ...target('starttls'), caPem: undefined };
    const error = await XmppConnection.login(strict, accounts[0]!, { cache }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoginError);
    expect((error as LoginError).step).toBe('starttls');
    const insecure = await XmppConnection.login({ ...strict, insecure: true }, accounts[0]!, { cache });
    expect(insecure.jid).toMatch(/^user0@localhost\//);
    await insecure.close();
  });

  it('falls back to PLAIN when asked to (over TLS: Prosody refuses PLAIN in the clear)', async () => {
    const plain = await XmppConnection.login({ ...target('starttls'), mechanisms: ['PLAIN'] }, accounts[2]!, { cache });
    expect(plain.jid).toMatch(/^user2@localhost\//);
    await plain.close();
    await expect(XmppConnection.login({ ...target('none'), mechanisms: ['PLAIN'] }, accounts[2]!, { cache })).rejects.toThrow(/no usable mechanism/);
  });

  it('reads the server process\'s figures', () => {
    const figures = processFigures(prosody.pid);
    expect(figures.rssKiB).toBeGreaterThan(1000);
    expect(figures.cpuSeconds).toBeGreaterThan(0);
  });
});

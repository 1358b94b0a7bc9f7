// The Prosody helper: accounts written as files are the accounts Prosody sees (also for a domain
// its path encoding changes), TLS can be required, and stop() leaves nothing behind.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Fleet, XmppConnection, seededCache } from '../load/src/index.js';
import { encodeProsodyPathPart, startProsody } from './src/index.js';

describe('encodeProsodyPathPart', () => {
  it('keeps ASCII letters and digits and %-encodes every other byte, lower-case hex', () => {
    expect(encodeProsodyPathPart('localhost')).toBe('localhost');
    expect(encodeProsodyPathPart('example.com')).toBe('example%2ecom');
    expect(encodeProsodyPathPart('a_b-ü')).toBe('a%5fb%2d%c3%bc');
  });
});

describe('startProsody (Prosody is a prerequisite: scripts/prerequisites.sh)', () => {
  it('serves accounts written as files for a dotted domain, requires TLS when asked, and cleans up on stop', async () => {
    const accounts = [{ username: 'romeo', password: 'wherefore' }];
    const prosody = await startProsody({ domain: 'example.com', accounts, requireEncryption: true });
    try {
      expect(existsSync(`${prosody.dir}/data/example%2ecom/accounts/romeo.dat`)).toBe(true);
      const cache = seededCache(prosody.scram.map((s) => ({ hash: 'sha1' as const, ...s })));
      const target = { host: prosody.host, port: prosody.port, domain: 'example.com', caPem: prosody.caPem };
      await expect(XmppConnection.login({ ...target, tls: 'none' }, accounts[0]!, { cache })).rejects.toThrow(/requires TLS/);
      const fleet = new Fleet({ ...target, tls: 'starttls' }, cache);
      expect(await fleet.open(accounts)).toMatchObject({ opened: 1, failed: 0 });
      expect(fleet.sessions[0]!.jid).toBe('romeo@example.com/load');
      expect(cache.misses).toBe(0); // the seeded SaltedPassword was used
      await fleet.closeAll();
    } finally {
      await prosody.stop();
    }
    expect(existsSync(prosody.dir)).toBe(false);
    expect(existsSync(`/proc/${prosody.pid}`)).toBe(false);
  });
});

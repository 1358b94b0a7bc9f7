import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPeerAuthorisation } from '@ambrosia/pki';
import { run } from './run.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ambrosia-ca-test-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('ambrosia ca', () => {
  it('inits a CA and issues gateway, service and admin certificates that chain to it', async () => {
    const ca = join(dir, 'ca');
    const init = await run('ca', '--dir', ca, 'init');
    expect(init.code).toBe(0);
    expect(init.out).toContain(join(ca, 'ca.crt'));
    expect((await stat(join(ca, 'ca.key'))).mode & 0o777).toBe(0o600);

    const again = await run('ca', '--dir', ca, 'init');
    expect(again.code).toBe(1);
    expect(again.err).toContain('pass --force to replace it');

    const caCert = new X509Certificate(await readFile(join(ca, 'ca.crt')));
    const issued = await run('--json', 'ca', '--dir', ca, 'issue', 'service', 'im-1', '--register', 'example.org/client', '--register', 'example.net/client');
    expect(issued.code).toBe(0);
    const service = new X509Certificate(await readFile(JSON.parse(issued.out).certPath));
    expect(service.verify(caCert.publicKey)).toBe(true);
    expect(readPeerAuthorisation(service)).toMatchObject({
      role: 'service',
      commonName: 'im-1',
      permissions: [
        { domain: 'example.org', type: 'client' },
        { domain: 'example.net', type: 'client' },
      ],
    });

    const out = join(dir, 'gw');
    const gateway = await run('ca', '--dir', ca, 'issue', 'gateway', 'gw-1', '--host', 'gw1.example.org', '--host', '127.0.0.1', '--out', out);
    expect(gateway.code).toBe(0);
    const gw = new X509Certificate(await readFile(join(out, 'gw-1.crt')));
    expect(gw.subjectAltName).toContain('DNS:gw1.example.org');
    expect(gw.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(readPeerAuthorisation(gw)?.role).toBe('gateway');
    expect(((await stat(join(out, 'gw-1.key'))).mode & 0o777)).toBe(0o600);

    const admin = await run('ca', '--dir', ca, 'issue', 'admin', 'ops');
    expect(admin.code).toBe(0);
    expect(readPeerAuthorisation(new X509Certificate(await readFile(join(ca, 'ops.crt'))))?.role).toBe('admin');
  });

  it('refuses bad requests with a readable line and exit code 2', async () => {
    const ca = join(dir, 'ca2');
    expect((await run('ca', '--dir', ca, 'issue', 'admin', 'x')).err).toContain('run `ambrosia ca init` first');
    await run('ca', '--dir', ca, 'init');
    const cases: Array<[string[], string]> = [
      [['issue', 'root', 'x'], 'role must be gateway, service or admin (got "root")'],
      [['issue', 'service', 'x'], 'a service certificate needs at least one --register domain/type'],
      [['issue', 'service', 'x', '--register', 'example.org'], '--register takes domain/type'],
      [['issue', 'gateway', 'x', '--register', 'example.org/client'], '--register is only for service certificates'],
      [['issue', 'admin', 'x', '--days', 'soon'], '--days must be a positive whole number'],
    ];
    for (const [args, message] of cases) {
      const r = await run('ca', '--dir', ca, ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain(message);
    }
  });
});

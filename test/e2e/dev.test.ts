// `ambrosia dev`, the README's first command, used the way a new user uses it: third-party
// clients log in, fetch their roster, add each other and chat through the real gateway and the
// real IM service over a real service channel.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDev, type DevSystem } from '@ambrosia/cli';
import { killAll, runProcess, startProcess } from '../support/processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const chatClient = join(root, 'test/clients/xmpp-js-chat.mjs');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ambrosia-dev-e2e-'));
});
afterAll(async () => {
  killAll();
  await rm(dir, { recursive: true, force: true });
});

function chat(dev: DevSystem['info'], user: string, password: string, peer: string, extra: NodeJS.ProcessEnv = {}) {
  return runProcess(process.execPath, [chatClient], {
    timeoutMs: 40_000,
    env: {
      NODE_EXTRA_CA_CERTS: dev.caCertPath,
      XMPP_SERVICE: `xmpp://127.0.0.1:${dev.ports.c2s}`,
      XMPP_DOMAIN: dev.domain,
      XMPP_USER: user,
      XMPP_PASSWORD: password,
      PEER: peer,
      COUNT: '3',
      ...extra,
    },
  });
}

describe('ambrosia dev with @xmpp/client', () => {
  it('two users log in over STARTTLS with SCRAM-SHA-1, add each other and chat', async () => {
    const dev = await startDev({
      domain: 'localhost',
      host: '127.0.0.1',
      ports: { c2s: 0, c2sTls: 0, service: 0 },
      dataDir: join(dir, 'one'),
      log: (line) => process.env.AMBROSIA_TEST_LOG && console.log(line),
      accounts: [
        { user: 'alice', password: 'alice-secret' },
        { user: 'bob', password: 'bob-secret' },
      ],
    });
    try {
      expect(dev.info.accounts.map((a) => a.jid)).toEqual(['demo@localhost', 'alice@localhost', 'bob@localhost']);
      const [alice, bob] = await Promise.all([
        chat(dev.info, 'alice', 'alice-secret', 'bob@localhost'),
        chat(dev.info, 'bob', 'bob-secret', 'alice@localhost'),
      ]);
      for (const [name, run] of [['alice', alice], ['bob', bob]] as const) {
        expect(run.code, `${name}: ${run.stderr}${run.stdout}`).toBe(0);
        const online = run.events.find((e) => e.event === 'online');
        expect(String(online?.jid)).toMatch(new RegExp(`^${name}@localhost/`));
        const rosters = run.events.filter((e) => e.event === 'roster');
        expect(rosters.at(-1)?.items).toContain(name === 'alice' ? 'bob@localhost' : 'alice@localhost');
      }
      // Each got the other's three messages, in order, exactly once (whether the peer was online
      // yet or the messages waited offline).
      expect(alice.events.find((e) => e.event === 'done')?.received).toEqual(['bob says 1', 'bob says 2', 'bob says 3']);
      expect(bob.events.find((e) => e.event === 'done')?.received).toEqual(['alice says 1', 'alice says 2', 'alice says 3']);
    } finally {
      await dev.stop();
    }
  });

  it('refuses a wrong password with SASL not-authorized', async () => {
    const dev = await startDev({
      domain: 'localhost',
      host: '127.0.0.1',
      ports: { c2s: 0, c2sTls: 0, service: 0 },
      dataDir: join(dir, 'two'),
      accounts: [],
    });
    try {
      const run = await chat(dev.info, 'demo', 'not-the-password', '', { COUNT: '0' });
      expect(run.code).toBe(1);
      expect(run.events.at(-1)).toMatchObject({ event: 'error', condition: 'not-authorized' });
    } finally {
      await dev.stop();
    }
  });
});

describe('the ambrosia binary', () => {
  const bin = join(root, 'packages/cli/dist/bin/ambrosia.js');
  it('runs `ambrosia dev`, prints how to connect, serves the demo user and stops on SIGTERM', async () => {
    if (!existsSync(bin)) {
      const build = await runProcess('npm', ['run', 'build'], { cwd: root, timeoutMs: 300_000 });
      expect(build.code, build.stderr).toBe(0);
    }
    const dev = startProcess(process.execPath, [bin, '--json', 'dev', '--c2s-port', '0', '--tls-port', '0', '--service-port', '0', '--data-dir', join(dir, 'bin')], {
      cwd: dir,
    });
    await dev.until((out) => out.trimEnd().endsWith('}'));
    const info = JSON.parse(dev.stdout) as DevSystem['info'];
    expect(info.caCertPath).toBe(join(dir, 'bin', 'ca.crt'));
    const demo = info.accounts[0]!;
    expect(demo.jid).toBe('demo@localhost');
    const run = await chat(info, 'demo', demo.password, '', { COUNT: '0' });
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.events.some((e) => e.event === 'online')).toBe(true);
    dev.child.kill('SIGTERM');
    expect(await dev.exited).toEqual({ code: 0, signal: null });
  });
});

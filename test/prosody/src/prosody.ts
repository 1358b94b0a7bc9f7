// Starts Debian's `prosody` on a free loopback port with its own temporary configuration, data
// directory and CA-issued certificate, and stops it (no process left behind).
//
// Prosody refuses to run as root (mod_posix: "Danger, Will Robinson!"). When we are root we
// raise the open-files limit (Prosody holds one descriptor per session) and drop to the
// `prosody` system user with setpriv; without that user we set `run_as_root = true`. As any
// other user Prosody simply runs as us.
import { spawn, type ChildProcess } from 'node:child_process';
import { chown, chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueDomainCertificate } from '@ambrosia/pki';
import { writeProsodyAccounts, type ProsodyAccount, type ProsodyScramRecord } from './accounts.js';
import { DEFAULT_PROSODY_MODULES, prosodyConfig } from './config.js';

export interface StartProsodyOptions {
  /** Virtual host; default `localhost`. */
  domain?: string;
  /** Accounts written before start (internal_hashed records). */
  accounts?: readonly ProsodyAccount[];
  /** PBKDF2 iterations of those records; default 4096 (Prosody's own default is 10000). */
  iterations?: number;
  /** `c2s_require_encryption`; default false, so clients may skip STARTTLS. */
  requireEncryption?: boolean;
  modules?: readonly string[];
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Raw Lua for the global section. */
  extraConfig?: string;
  /** Open-files limit asked for when we are root; default 65536. */
  maxOpenFiles?: number;
  /** Bound on the wait for the port to accept; default 20 s. */
  startTimeoutMs?: number;
  /** Bound on the wait for exit after SIGTERM before SIGKILL; default 10 s. */
  stopTimeoutMs?: number;
  /** Path of the prosody executable; default `prosody` from PATH. */
  executable?: string;
}

export interface RunningProsody {
  host: string;
  port: number;
  domain: string;
  /** PEM of the CA that issued Prosody's certificate: clients verify against it. */
  caPem: string;
  /** The Prosody (Lua) process, for /proc/<pid> measurements. */
  pid: number;
  /** Temporary directory (config, certificate, data); removed by stop(). */
  dir: string;
  /** SCRAM-SHA-1 records of the accounts, for a client's SaltedPassword cache. */
  scram: ProsodyScramRecord[];
  /** The last lines Prosody logged (bounded). */
  output(): string;
  stop(): Promise<void>;
}

const OUTPUT_LINES_KEPT = 200;

export function prosodyInstalled(executable = 'prosody'): boolean {
  return executable.includes('/') ? existsSync(executable) : (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, executable)));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function systemUser(name: string): { uid: number; gid: number } | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [user, , uid, gid] = line.split(':');
      if (user === name && uid && gid) return { uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    // no /etc/passwd: not a system we drop privileges on
  }
  return undefined;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startProsody(options: StartProsodyOptions = {}): Promise<RunningProsody> {
  const domain = options.domain ?? 'localhost';
  const executable = options.executable ?? 'prosody';
  const isRoot = process.getuid?.() === 0;
  const dropTo = isRoot ? systemUser('prosody') : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'ambrosia-prosody-'));
  let child: ChildProcess | undefined;
  const lines: string[] = [];
  let killOnExit: (() => void) | undefined;
  try {
    const dataDir = join(dir, 'data');
    const ca = await createCA({ commonName: 'Ambrosia benchmark CA' });
    const leaf = await issueDomainCertificate(ca, { domains: [domain] });
    // Also where certmanager looks by default (<config dir>/certs/<host>.crt), so it finds them.
    const certsDir = join(dir, 'certs');
    await mkdir(certsDir);
    const certificatePath = join(certsDir, `${domain}.crt`);
    const keyPath = join(certsDir, `${domain}.key`);
    await writeFile(certificatePath, leaf.certPem);
    await writeFile(keyPath, leaf.keyPem, { mode: 0o600 });
    const scram = await writeProsodyAccounts(dataDir, domain, options.accounts ?? [], {
      ...(options.iterations !== undefined ? { iterations: options.iterations } : {}),
      ...(dropTo ? { owner: dropTo } : {}),
    });
    const port = await freePort();
    const configPath = join(dir, 'prosody.cfg.lua');
    await writeFile(
      configPath,
      prosodyConfig({
        domain,
        port,
        dataDir,
        certificatePath,
        keyPath,
        requireEncryption: options.requireEncryption ?? false,
        modules: options.modules ?? DEFAULT_PROSODY_MODULES,
        runAsRoot: isRoot && !dropTo,
        logLevel: options.logLevel ?? 'warn',
        ...(options.extraConfig !== undefined ? { extra: options.extraConfig } : {}),
      }),
    );
    if (dropTo) {
      // mkdtemp made the directory 0700 root; Prosody needs to read its config and key and
      // write its data directory.
      for (const path of [dir, certsDir, dataDir, certificatePath, keyPath, configPath]) await chown(path, dropTo.uid, dropTo.gid);
      await chmod(dir, 0o700);
    }

    const prosodyArgs = [executable, '-F', '--config', configPath];
    const argv = dropTo ? ['setpriv', `--reuid=${dropTo.uid}`, `--regid=${dropTo.gid}`, '--clear-groups', '--', ...prosodyArgs] : prosodyArgs;
    const limit = options.maxOpenFiles ?? 65536;
    // `exec` keeps the pid: sh → setpriv → lua5.4 running prosody, so child.pid is Prosody's.
    const script = isRoot ? `ulimit -Hn ${limit} 2>/dev/null; ulimit -Sn ${limit} 2>/dev/null; exec "$@"` : 'ulimit -Sn "$(ulimit -Hn)" 2>/dev/null; exec "$@"';
    child = spawn('/bin/sh', ['-c', script, 'sh', ...argv], {
      cwd: dir,
      env: { ...process.env, HOME: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        lines.push(line);
        if (lines.length > OUTPUT_LINES_KEPT) lines.shift();
      }
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let exited = false;
    const exitPromise = new Promise<void>((resolve) => child!.once('exit', () => ((exited = true), resolve())));
    child.once('error', (e) => lines.push(`spawn error: ${e.message}`));
    const running = child;
    // If the caller dies without stop() (a crash, process.exit), leave nothing behind.
    killOnExit = () => {
      if (!exited) running.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    };
    process.once('exit', killOnExit);

    const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
    while (!(await canConnect(port))) {
      if (exited) throw new Error(`prosody exited during start:\n${lines.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`prosody did not accept on port ${port} in time:\n${lines.join('\n')}`);
      await sleep(50);
    }

    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopped ??= (async () => {
        if (!exited) {
          running.kill('SIGTERM');
          const timer = setTimeout(() => running.kill('SIGKILL'), options.stopTimeoutMs ?? 10_000);
          await exitPromise;
          clearTimeout(timer);
        }
        process.removeListener('exit', killOnExit!);
        await rm(dir, { recursive: true, force: true });
      })());
    return {
      host: '127.0.0.1',
      port,
      domain,
      caPem: ca.certPem,
      pid: running.pid!,
      dir,
      scram,
      output: () => lines.join('\n'),
      stop,
    };
  } catch (error) {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
    }
    if (killOnExit) process.removeListener('exit', killOnExit);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}


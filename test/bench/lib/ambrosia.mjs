// The Ambrosia side of the comparison: the gateway and the IM service in a child process (so
// the server's RSS and CPU are not mixed with the load client's), with the benchmark's users.
//
// startAmbrosia({ users, domain }) → { host, port, caPem, pid, scramSeeds?, output(), stop() }
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const serverScript = fileURLToPath(new URL('./ambrosia-server.mjs', import.meta.url));

/** The Ambrosia side cannot run yet; `reason` says what is missing. */
export class AmbrosiaPending extends Error {
  constructor(reason) {
    super(`Ambrosia side pending: ${reason}`);
    this.name = 'AmbrosiaPending';
    this.code = 'AMBROSIA_PENDING';
  }
}

const OUTPUT_LINES_KEPT = 200;
const START_TIMEOUT_MS = 60_000;

export async function startAmbrosia({ users, domain = 'localhost' }) {
  for (const pkg of ['gateway', 'im-service']) {
    if (!existsSync(`${root}packages/${pkg}/dist/index.js`)) throw new AmbrosiaPending(`packages/${pkg} is not built (npm run build)`);
  }
  const child = spawn(process.execPath, [serverScript], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = [];
  const keep = (text) => {
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      lines.push(line);
      if (lines.length > OUTPUT_LINES_KEPT) lines.shift();
    }
  };
  child.stderr.on('data', (d) => keep(String(d)));
  let exited = false;
  const exitPromise = new Promise((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const killOnExit = () => exited || child.kill('SIGKILL');
  process.once('exit', killOnExit);

  // The server script reads its settings as one JSON line on stdin and answers with one JSON
  // line on stdout: { ready: true, host, port, caPem } or { pending: reason } or { error }.
  child.stdin.write(JSON.stringify({ users, domain }) + '\n');
  let answer;
  try {
    answer = await new Promise((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => reject(new Error(`Ambrosia did not start in ${START_TIMEOUT_MS} ms:\n${lines.join('\n')}`)), START_TIMEOUT_MS);
      child.stdout.on('data', (d) => {
        buffered += String(d);
        const newline = buffered.indexOf('\n');
        if (newline < 0) {
          if (buffered.length > 10 * 1024 * 1024) reject(new Error('Ambrosia server script: answer too long'));
          return;
        }
        clearTimeout(timer);
        try {
          resolve(JSON.parse(buffered.slice(0, newline)));
        } catch (e) {
          reject(e);
        }
        keep(buffered.slice(newline + 1));
        child.stdout.removeAllListeners('data');
        child.stdout.on('data', (more) => keep(String(more)));
      });
      exitPromise.then(() => {
        clearTimeout(timer);
        reject(new Error(`Ambrosia server script exited during start:\n${lines.join('\n')}`));
      });
    });
  } catch (error) {
    await stopChild();
    throw error;
  }
  if (!answer.ready) {
    await stopChild();
    throw answer.pending ? new AmbrosiaPending(answer.pending) : new Error(`Ambrosia failed to start: ${answer.error}`);
  }

  async function stopChild() {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exitPromise;
      clearTimeout(timer);
    }
    process.removeListener('exit', killOnExit);
  }

  return {
    host: answer.host,
    port: answer.port,
    caPem: answer.caPem,
    pid: child.pid,
    scramSeeds: answer.scramSeeds?.map((s) => ({ ...s, saltedPassword: Buffer.from(s.saltedPassword, 'base64') })),
    output: () => lines.join('\n'),
    stop: stopChild,
  };
}

/**
 * Locating the Redis programs. They come from the operating system (Debian: `redis-server`,
 * `redis-sentinel`), never from npm; a missing program is reported with the package to install.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { TestingRedisError } from './errors.js';

/** Debian package providing each program (`scripts/prerequisites.sh` installs the same). */
const DEBIAN_PACKAGE = {
  'redis-server': 'redis-server',
  'redis-sentinel': 'redis-sentinel',
} as const;

export type RedisProgram = keyof typeof DEBIAN_PACKAGE;

/** Paths found so far; a missing program is looked up again (it may be installed meanwhile). */
const located = new Map<RedisProgram, string>();

function searchPath(program: string): string | null {
  for (const directory of (process.env['PATH'] ?? '').split(delimiter)) {
    if (directory === '') continue;
    const candidate = join(directory, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** Absolute path of `program` on PATH, or null. */
export function locate(program: RedisProgram): string | null {
  const known = located.get(program);
  if (known !== undefined) return known;
  const found = searchPath(program);
  if (found !== null) located.set(program, found);
  return found;
}

/** Absolute path of `program`, or an error naming the package that provides it. */
export function requireProgram(program: RedisProgram): string {
  const path = locate(program);
  if (path !== null) return path;
  const debianPackage = DEBIAN_PACKAGE[program];
  throw new TestingRedisError(
    'ERR_REDIS_BINARY_MISSING',
    `${program} was not found on PATH. Install it with \`sudo apt-get install -y ${debianPackage}\` ` +
      `(Debian/Ubuntu package "${debianPackage}"; other systems: the Redis package of your package manager), ` +
      'or run `bash scripts/prerequisites.sh` from the repository root.',
  );
}

export interface RedisVersion {
  major: number;
  minor: number;
  patch: number;
  text: string;
}

let versionPromise: Promise<RedisVersion> | undefined;

/** Version of the `redis-server` on PATH (from `redis-server --version`), cached. */
export function redisVersion(): Promise<RedisVersion> {
  versionPromise ??= new Promise<RedisVersion>((resolve, reject) => {
    const path = requireProgram('redis-server');
    execFile(path, ['--version'], { timeout: 10_000 }, (error, stdout) => {
      if (error) {
        reject(new TestingRedisError('ERR_REDIS_START_FAILED', `${path} --version failed: ${error.message}`, { cause: error }));
        return;
      }
      const match = /v=(\d+)\.(\d+)\.(\d+)/.exec(stdout);
      if (!match) {
        reject(new TestingRedisError('ERR_REDIS_START_FAILED', `cannot read a version from \`${path} --version\`: ${stdout.trim()}`));
        return;
      }
      resolve({ major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), text: `${match[1]}.${match[2]}.${match[3]}` });
    });
  });
  // A failed probe is not cached: the binary may be installed while the process runs.
  versionPromise.catch(() => {
    versionPromise = undefined;
  });
  return versionPromise;
}

/**
 * Free loopback ports. The kernel picks a port for a listener bound to port 0; we close it and
 * hand the number out. Another process can take the port before Redis binds it, so launchers
 * retry with a fresh port when Redis reports "Address already in use" (see server.ts).
 */
import { createServer } from 'node:net';
import { TestingRedisError } from './errors.js';

/** Ports the machine's own Redis services use; never handed out (tests must not touch them). */
export const RESERVED_PORTS: ReadonlySet<number> = new Set([6379, 16379, 26379]);

/**
 * Ports handed out recently by this process, so two servers started back to back never get the
 * same number even before the first one binds. Bounded: beyond the limit the oldest entry is
 * forgotten (by then its server has long bound it, or given it up).
 */
const RECENT_LIMIT = 4096;
const recentlyHandedOut = new Set<number>();
const MAX_ATTEMPTS = 50;

function remember(port: number): void {
  recentlyHandedOut.add(port);
  if (recentlyHandedOut.size > RECENT_LIMIT) {
    const oldest = recentlyHandedOut.values().next().value;
    if (oldest !== undefined) recentlyHandedOut.delete(oldest);
  }
}

function kernelPickedPort(host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A TCP port on `host` (default 127.0.0.1) that was free a moment ago and is not 6379/16379/26379. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const port = await kernelPickedPort(host);
    if (port === 0 || RESERVED_PORTS.has(port) || recentlyHandedOut.has(port)) continue;
    remember(port);
    return port;
  }
  throw new TestingRedisError('ERR_REDIS_PORT_IN_USE', `no free port on ${host} after ${MAX_ATTEMPTS} attempts`);
}

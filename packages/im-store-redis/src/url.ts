// The one-line forms a deployment configures Redis with; the same as @ambrosia/registry-redis
// accepts (docs/registry.md, "Connecting"), so one REDIS_URL setting serves both:
//   redis://[user[:password]@]host[:port][/db]            standalone (default port 6379)
//   rediss://...                                           the same over TLS
//   redis-sentinel://[user[:password]@]h1:p1,h2:p2,.../masterName[?db=N&sentinelPassword=...&tls=true]
//   redis-cluster://[user[:password]@]h1:p1,h2:p2,...[?tls=true]
// IPv6 hosts go in brackets. User and password are percent-decoded. Errors never echo a password.

import { ImStoreError } from '@ambrosia/im-store';

export interface HostPort {
  host: string;
  port: number;
}

interface Credentials {
  username?: string;
  password?: string;
}

export type RedisTopology =
  | ({ mode: 'standalone'; host: string; port: number; db: number; tls: boolean } & Credentials)
  | ({ mode: 'sentinel'; sentinels: HostPort[]; masterName: string; db: number; tls: boolean; sentinelPassword?: string } & Credentials)
  | ({ mode: 'cluster'; nodes: HostPort[]; tls: boolean } & Credentials);

const MAX_HOSTS = 64;

function invalid(url: string, why: string): ImStoreError {
  const safe = url.replace(/\/\/([^@/]*)@/, (_m, userinfo: string) => `//${userinfo.includes(':') ? `${userinfo.split(':')[0]}:***` : '***'}@`);
  return new ImStoreError('IM_STORE_INVALID_ARGUMENT', `redis URL "${safe}": ${why}`);
}

function hostPort(url: string, text: string, defaultPort: number): HostPort {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::([0-9]{1,5}))?$/.exec(text);
  if (match === null) throw invalid(url, `"${text}" is not host[:port] (IPv6 hosts go in brackets)`);
  const port = match[3] === undefined ? defaultPort : Number(match[3]);
  if (port < 1 || port > 65535) throw invalid(url, `bad port in "${text}"`);
  return { host: match[1] ?? match[2] ?? '', port };
}

function flag(url: string, value: string | null): boolean {
  if (value === null || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw invalid(url, `"${value}" is not a boolean`);
}

function database(url: string, text: string | null | undefined): number {
  if (text === null || text === undefined || text === '') return 0;
  if (!/^[0-9]{1,5}$/.test(text)) throw invalid(url, `bad database number "${text}"`);
  return Number(text);
}

function query(url: string, text: string | undefined, allowed: readonly string[]): URLSearchParams {
  const params = new URLSearchParams(text ?? '');
  for (const key of params.keys()) {
    if (!allowed.includes(key)) throw invalid(url, `unknown parameter "${key}" (allowed: ${allowed.join(', ') || 'none'})`);
  }
  return params;
}

export function parseRedisUrl(url: string): RedisTopology {
  if (typeof url !== 'string' || url === '') throw new ImStoreError('IM_STORE_INVALID_ARGUMENT', 'a redis URL is required');
  const match = /^([a-z-]+):\/\/(?:([^@/?]*)@)?([^/?]*)(\/[^?]*)?(?:\?(.*))?$/.exec(url);
  if (match === null) throw invalid(url, 'not of the form scheme://[user:password@]hosts[/path][?query]');
  const [, scheme, userinfo, hostsText = '', path, queryText] = match;
  const credentials: Credentials = {};
  if (userinfo !== undefined && userinfo !== '') {
    const colon = userinfo.indexOf(':');
    if (colon < 0) {
      credentials.password = decodeURIComponent(userinfo); // redis://secret@host: a password without a user
    } else {
      const user = decodeURIComponent(userinfo.slice(0, colon));
      if (user !== '') credentials.username = user;
      credentials.password = decodeURIComponent(userinfo.slice(colon + 1));
    }
  }
  const hosts = hostsText.split(',');
  if (hosts.length > MAX_HOSTS) throw invalid(url, `more than ${MAX_HOSTS} hosts`);
  switch (scheme) {
    case 'redis':
    case 'rediss': {
      if (hosts.length !== 1) throw invalid(url, 'one host only (use redis-sentinel:// or redis-cluster:// for several)');
      query(url, queryText, []);
      const { host, port } = hostPort(url, hosts[0] ?? '', 6379);
      return { mode: 'standalone', host, port, db: database(url, path?.slice(1)), tls: scheme === 'rediss', ...credentials };
    }
    case 'redis-sentinel': {
      const masterName = path?.slice(1) ?? '';
      if (!/^[A-Za-z0-9._-]+$/.test(masterName)) throw invalid(url, 'the path must be the master name');
      const params = query(url, queryText, ['db', 'sentinelPassword', 'tls']);
      const topology: RedisTopology = {
        mode: 'sentinel',
        sentinels: hosts.map((h) => hostPort(url, h, 26379)),
        masterName,
        db: database(url, params.get('db')),
        tls: flag(url, params.get('tls')),
        ...credentials,
      };
      const sentinelPassword = params.get('sentinelPassword');
      if (sentinelPassword !== null) topology.sentinelPassword = sentinelPassword;
      return topology;
    }
    case 'redis-cluster': {
      if (path !== undefined && path !== '' && path !== '/') throw invalid(url, 'a cluster URL has no path (Redis Cluster has only database 0)');
      const params = query(url, queryText, ['tls']);
      return { mode: 'cluster', nodes: hosts.map((h) => hostPort(url, h, 6379)), tls: flag(url, params.get('tls')), ...credentials };
    }
    default:
      throw invalid(url, `unknown scheme "${scheme}" (redis, rediss, redis-sentinel, redis-cluster)`);
  }
}

// The one-line forms a deployment configures Redis with (docs/registry.md, "Connecting"):
//   redis://[user[:password]@]host[:port][/db]            standalone (default port 6379)
//   rediss://...                                           the same over TLS
//   redis-sentinel://[user[:password]@]h1:p1,h2:p2,.../masterName[?db=N&sentinelPassword=...&tls=true]
//   redis-cluster://[user[:password]@]h1:p1,h2:p2,...[?tls=true]
// IPv6 hosts go in brackets. User and password are percent-decoded.

import { RegistryError } from '@ambrosia/registry';

export interface HostPort {
  host: string;
  port: number;
}

export interface Credentials {
  username?: string;
  password?: string;
}

export type RedisTopology =
  | ({ mode: 'standalone'; host: string; port: number; db: number; tls: boolean } & Credentials)
  | ({ mode: 'sentinel'; sentinels: HostPort[]; masterName: string; db: number; tls: boolean; sentinelPassword?: string } & Credentials)
  | ({ mode: 'cluster'; nodes: HostPort[]; tls: boolean } & Credentials);

const DEFAULT_PORT = 6379;
const DEFAULT_SENTINEL_PORT = 26379;
const MAX_HOSTS = 64;

function invalid(url: string, why: string): RegistryError {
  // Never echo the password back into logs.
  const safe = url.replace(/\/\/([^@/]*)@/, (_m, userinfo: string) => `//${userinfo.includes(':') ? `${userinfo.split(':')[0]}:***` : userinfo}@`);
  return new RegistryError('REGISTRY_INVALID_ARGUMENT', `redis URL "${safe}": ${why}`);
}

function parseHostPort(url: string, text: string, defaultPort: number): HostPort {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw invalid(url, `unclosed IPv6 bracket in "${text}"`);
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw invalid(url, `unexpected "${rest}" after an IPv6 host`);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0 && text.indexOf(':') !== colon) throw invalid(url, `IPv6 hosts must be in brackets ("${text}")`);
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
  }
  if (host === '') throw invalid(url, 'empty host');
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) throw invalid(url, `bad port "${portText}"`);
    port = Number(portText);
  }
  return { host, port };
}

function parseQuery(url: string, query: string | undefined, allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (query === undefined || query === '') return out;
  for (const [key, value] of new URLSearchParams(query)) {
    if (!allowed.includes(key)) throw invalid(url, `unknown parameter "${key}" (allowed: ${allowed.join(', ') || 'none'})`);
    out.set(key, value);
  }
  return out;
}

function parseBool(url: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw invalid(url, `"${value}" is not a boolean`);
}

function parseDb(url: string, text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  if (!/^[0-9]{1,5}$/.test(text)) throw invalid(url, `bad database number "${text}"`);
  return Number(text);
}

export function parseRedisUrl(url: string): RedisTopology {
  if (typeof url !== 'string' || url.length === 0) throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'a redis URL is required');
  const match = /^([a-z-]+):\/\/(?:([^@/?]*)@)?([^/?]*)(\/[^?]*)?(?:\?(.*))?$/.exec(url);
  if (match === null) throw invalid(url, 'not of the form scheme://[user:password@]hosts[/path][?query]');
  const [, scheme, userinfo, hostsText = '', path, query] = match;
  const credentials: Credentials = {};
  if (userinfo !== undefined && userinfo !== '') {
    const colon = userinfo.indexOf(':');
    const user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
    if (colon < 0) {
      // redis://secret@host is how Redis < 6 URLs carry a password without a user.
      credentials.password = user;
    } else {
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
      parseQuery(url, query, []);
      const { host, port } = parseHostPort(url, hosts[0] ?? '', DEFAULT_PORT);
      return { mode: 'standalone', host, port, db: parseDb(url, path?.slice(1)), tls: scheme === 'rediss', ...credentials };
    }
    case 'redis-sentinel': {
      const masterName = path?.slice(1) ?? '';
      if (!/^[A-Za-z0-9._-]+$/.test(masterName)) throw invalid(url, 'the path must be the master name');
      const params = parseQuery(url, query, ['db', 'sentinelPassword', 'tls']);
      const sentinels = hosts.map((h) => parseHostPort(url, h, DEFAULT_SENTINEL_PORT));
      const topology: RedisTopology = {
        mode: 'sentinel',
        sentinels,
        masterName,
        db: parseDb(url, params.get('db')),
        tls: parseBool(url, params.get('tls')),
        ...credentials,
      };
      const sentinelPassword = params.get('sentinelPassword');
      if (sentinelPassword !== undefined) topology.sentinelPassword = sentinelPassword;
      return topology;
    }
    case 'redis-cluster': {
      if (path !== undefined && path !== '' && path !== '/') throw invalid(url, 'a cluster URL has no path (Redis Cluster has only database 0)');
      const params = parseQuery(url, query, ['tls']);
      return { mode: 'cluster', nodes: hosts.map((h) => parseHostPort(url, h, DEFAULT_PORT)), tls: parseBool(url, params.get('tls')), ...credentials };
    }
    default:
      throw invalid(url, `unknown scheme "${scheme}" (redis, rediss, redis-sentinel, redis-cluster)`);
  }
}

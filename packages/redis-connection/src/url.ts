// The one-line forms a deployment configures Redis with; every adapter on Redis accepts the same
// ones, so one REDIS_URL setting serves the registry and the IM store alike:
//   redis://[user[:password]@]host[:port][/db]            standalone (default port 6379)
//   rediss://...                                           the same over TLS
//   redis-sentinel://[user[:password]@]h1:p1,h2:p2,.../masterName[?db=N&sentinelPassword=...&tls=true]
//                                                          (default Sentinel port 26379)
//   redis-cluster://[user[:password]@]h1:p1,h2:p2,...[?tls=true]
// IPv6 hosts go in brackets. User and password are percent-decoded (RFC 3986 §3.2.1: "@", "/",
// "?" in them must be percent-encoded). Error messages never repeat a password.

import { RedisUrlError } from './errors.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface RedisCredentials {
  username?: string;
  password?: string;
}

export type RedisTopology =
  | ({ mode: 'standalone'; host: string; port: number; db: number; tls: boolean } & RedisCredentials)
  | ({ mode: 'sentinel'; sentinels: HostPort[]; masterName: string; db: number; tls: boolean; sentinelPassword?: string } & RedisCredentials)
  | ({ mode: 'cluster'; nodes: HostPort[]; tls: boolean } & RedisCredentials);

export const DEFAULT_REDIS_PORT = 6379;
export const DEFAULT_SENTINEL_PORT = 26379;
/** Hosts one URL may list (Sentinels or cluster startup nodes); more is refused as a typo or an attack on the parser. */
export const MAX_REDIS_URL_HOSTS = 64;

const SCHEMES = 'redis, rediss, redis-sentinel, redis-cluster';
// scheme://authority[/path][?query]; the authority is [userinfo@]hosts.
const URL_SHAPE = /^([a-z][a-z0-9+.-]*):\/\/([^/?]*)(\/[^?]*)?(?:\?([\s\S]*))?$/;
// host[:port] or [IPv6][:port]. No "@" reaches here (see misplacedAt).
const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+))(?::([0-9]{1,5}))?$/;
// Its value is as secret as the password; replaced, never echoed.
const SECRET_PARAMS = /([?&]sentinelPassword=)[^&]*/g;

/**
 * True when an unencoded "@" shows that a password spilled out of the userinfo: a second "@", or
 * an "@" after a "/" or "?" (RFC 3986 §3.2: the authority ends there). Such a URL cannot be split
 * safely, so no part of it may be echoed. `afterScheme` is the index just past "://".
 */
function misplacedAt(url: string, afterScheme: number): boolean {
  const text = url.replace(SECRET_PARAMS, '$1');
  const first = text.indexOf('@', afterScheme);
  if (first < 0) return false;
  return text.indexOf('@', first + 1) >= 0 || /[/?]/.test(text.slice(afterScheme, first));
}

/**
 * The URL as it may appear in a log or an error: the password and `sentinelPassword` replaced by
 * `***`, the user name kept. When the password is not percent-encoded properly the URL cannot be
 * split safely, and everything after `scheme://` is hidden.
 */
export function redactRedisUrl(url: string): string {
  const start = url.indexOf('://');
  const scheme = start < 0 ? '' : url.slice(0, start);
  if (!/^[a-z][a-z0-9+.-]*$/i.test(scheme)) return url.includes('@') || url.includes('sentinelPassword') ? '***' : url;
  if (misplacedAt(url, start + 3)) return `${scheme}://***`;
  const redacted = url.replace(SECRET_PARAMS, '$1***');
  const at = redacted.indexOf('@', start + 3);
  if (at < 0) return redacted;
  const userinfo = redacted.slice(start + 3, at);
  const colon = userinfo.indexOf(':');
  return `${scheme}://${colon < 0 ? '***' : `${userinfo.slice(0, colon)}:***`}${redacted.slice(at)}`;
}

function invalid(url: string, why: string): RedisUrlError {
  return new RedisUrlError(`redis URL "${redactRedisUrl(url)}": ${why}`);
}

function decode(url: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalid(url, 'bad percent-encoding in the user name or password');
  }
}

function credentialsOf(url: string, userinfo: string | undefined): RedisCredentials {
  if (userinfo === undefined || userinfo === '') return {};
  const colon = userinfo.indexOf(':');
  // redis://secret@host is how Redis < 6 URLs carry a password without a user (AUTH <password>).
  if (colon < 0) return { password: decode(url, userinfo) };
  const username = decode(url, userinfo.slice(0, colon));
  const password = decode(url, userinfo.slice(colon + 1));
  return username === '' ? { password } : { username, password };
}

function hostPort(url: string, text: string, defaultPort: number): HostPort {
  if (text === '') throw invalid(url, 'empty host');
  const match = HOST_PORT.exec(text);
  if (match === null) throw invalid(url, `"${text}" is not host[:port] (IPv6 hosts go in brackets)`);
  const port = match[3] === undefined ? defaultPort : Number(match[3]);
  if (port < 1 || port > 65535) throw invalid(url, `bad port in "${text}" (1 to 65535)`);
  return { host: match[1] ?? match[2] ?? '', port };
}

function flag(url: string, value: string | undefined): boolean {
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw invalid(url, `"${value}" is not a boolean (true, false, 1, 0)`);
}

function database(url: string, text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  if (!/^[0-9]{1,5}$/.test(text)) throw invalid(url, `bad database number "${text}"`);
  return Number(text);
}

function parameters(url: string, text: string | undefined, allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(text ?? '')) {
    if (!allowed.includes(key)) throw invalid(url, `unknown parameter "${key}" (allowed: ${allowed.join(', ') || 'none'})`);
    if (out.has(key)) throw invalid(url, `parameter "${key}" given twice`);
    out.set(key, value);
  }
  return out;
}

/** Parses one of the four forms; throws RedisUrlError (code REDIS_URL_INVALID) naming what is wrong. */
export function parseRedisUrl(url: string): RedisTopology {
  if (typeof url !== 'string' || url === '') throw new RedisUrlError('a redis URL is required');
  const match = URL_SHAPE.exec(url);
  if (match === null) throw invalid(url, 'not of the form scheme://[user:password@]hosts[/path][?query]');
  // Checked before anything echoes a part of the URL: a part may hold a piece of the password.
  const [, scheme = '', authority = '', path, query] = match;
  if (misplacedAt(url, scheme.length + 3)) throw invalid(url, 'an "@", "/" or "?" in the user name or password must be percent-encoded (%40, %2F, %3F)');
  const at = authority.indexOf('@');
  const credentials = credentialsOf(url, at < 0 ? undefined : authority.slice(0, at));
  const hosts = authority.slice(at + 1).split(',');
  if (hosts.length > MAX_REDIS_URL_HOSTS) throw invalid(url, `more than ${MAX_REDIS_URL_HOSTS} hosts`);

  switch (scheme) {
    case 'redis':
    case 'rediss': {
      if (hosts.length !== 1) throw invalid(url, 'one host only (use redis-sentinel:// or redis-cluster:// for several)');
      parameters(url, query, []);
      const { host, port } = hostPort(url, hosts[0] ?? '', DEFAULT_REDIS_PORT);
      return { mode: 'standalone', host, port, db: database(url, path?.slice(1)), tls: scheme === 'rediss', ...credentials };
    }
    case 'redis-sentinel': {
      const masterName = path?.slice(1) ?? '';
      if (!/^[A-Za-z0-9._-]+$/.test(masterName)) throw invalid(url, 'the path must be the master name (A-Z a-z 0-9 . _ -)');
      const params = parameters(url, query, ['db', 'sentinelPassword', 'tls']);
      const topology: RedisTopology = {
        mode: 'sentinel',
        sentinels: hosts.map((h) => hostPort(url, h, DEFAULT_SENTINEL_PORT)),
        masterName,
        db: database(url, params.get('db')),
        tls: flag(url, params.get('tls')),
        ...credentials,
      };
      const sentinelPassword = params.get('sentinelPassword');
      if (sentinelPassword !== undefined) topology.sentinelPassword = sentinelPassword;
      return topology;
    }
    case 'redis-cluster': {
      if (path !== undefined && path !== '' && path !== '/') throw invalid(url, 'a cluster URL has no path (Redis Cluster has only database 0)');
      const params = parameters(url, query, ['tls']);
      return { mode: 'cluster', nodes: hosts.map((h) => hostPort(url, h, DEFAULT_REDIS_PORT)), tls: flag(url, params.get('tls')), ...credentials };
    }
    default:
      throw invalid(url, `unknown scheme "${scheme}" (${SCHEMES})`);
  }
}

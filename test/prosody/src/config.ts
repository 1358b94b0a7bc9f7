// The Prosody configuration written for one run: loopback only, c2s only, its own data directory.

/**
 * Debian's default module set (prosody.cfg.lua of the prosody package) minus what needs other
 * listeners or accounts management (http, register, invites, admin shell), and minus mod_limits:
 * Debian's 10 kB/s c2s rate limit would measure the limit, not the server.
 */
export const DEFAULT_PROSODY_MODULES: readonly string[] = [
  'disco',
  'roster',
  'saslauth',
  'tls',
  'blocklist',
  'bookmarks',
  'carbons',
  'pep',
  'private',
  'smacks',
  'vcard4',
  'vcard_legacy',
  'csi_simple',
  'ping',
  'time',
  'uptime',
  'version',
];

export interface ProsodyConfigInput {
  domain: string;
  port: number;
  dataDir: string;
  certificatePath: string;
  keyPath: string;
  requireEncryption: boolean;
  modules: readonly string[];
  runAsRoot: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Raw Lua appended to the global section. */
  extra?: string;
}

function lua(s: string): string {
  return JSON.stringify(s);
}

export function prosodyConfig(c: ProsodyConfigInput): string {
  return `-- Written by @ambrosia/e2e test/prosody for one test or benchmark run.
data_path = ${lua(c.dataDir)}
plugin_paths = { }
${c.runAsRoot ? 'run_as_root = true\n' : ''}network_backend = "epoll"
interfaces = { "127.0.0.1" }
c2s_interfaces = { "127.0.0.1" }
c2s_ports = { ${c.port} }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
component_ports = { }
modules_enabled = { ${c.modules.map(lua).join('; ')} }
modules_disabled = { "s2s"; "s2s_auth_certs" }
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = ${c.requireEncryption}
allow_unencrypted_plain_auth = false
allow_registration = false
log = { { levels = { min = ${lua(c.logLevel)} }; to = "console" } }
${c.extra ?? ''}
VirtualHost ${lua(c.domain)}
  ssl = { certificate = ${lua(c.certificatePath)}; key = ${lua(c.keyPath)}; }
`;
}

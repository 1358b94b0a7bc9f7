// The shape of ambrosia.yaml: every key, its type, its bounds and the defaults this package owns.
// Keys that tune another package (stream timeouts, hub limits) are optional and have no default
// here: absent means "that package's default", so a default lives in exactly one place.
// docs/configuration.md documents every key; docs/config.schema.json is generated from this file.
import { isIP } from 'node:net';
import * as z from 'zod';

/** Largest delay node's timers accept (2^31 - 1 ms); a larger one would fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;
/** Most worker processes `gateway.processes` may ask for. */
export const MAX_PROCESSES = 256;
export const DEFAULT_REGISTRY_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_CA_DIR = './ambrosia-ca';
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

const PORT = 'must be a port from 0 to 65535';
const port = z.int({ error: PORT }).min(0, { error: PORT }).max(65_535, { error: PORT });
/** A c2s listener: a port, or null for "off". */
const listenerPort = z.union([port, z.null()], { error: PORT });

const ms = (what: string) => {
  const message = `must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS} (${what})`;
  return z.int({ error: message }).min(1, { error: message }).max(MAX_TIMER_MS, { error: message });
};
const count = (what: string, max = 1_000_000_000) => {
  const message = `must be a whole number from 1 to ${max} (${what})`;
  return z.int({ error: message }).min(1, { error: message }).max(max, { error: message });
};
const text = (what: string) => z.string({ error: `must be text (${what})` }).min(1, { error: `must not be empty (${what})` });
/** A path on disk; relative paths are taken from the directory of the file that gives them. */
const path = (what: string) => text(what).meta({ format: 'path' });

const REDIS_URL = /^(rediss?|redis-sentinel|redis-cluster):\/\/\S+$/;
const redisUrl = z
  .string({ error: 'must be a Redis URL' })
  .regex(REDIS_URL, { error: 'must start with redis://, rediss://, redis-sentinel:// or redis-cluster://' });

const GATEWAY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$/;

// -----------------------------------------------------------------------------------------------

const registry = z
  .strictObject({
    url: redisUrl.default(DEFAULT_REGISTRY_URL).describe('The registry: redis://, rediss://, redis-sentinel://h1:p1,h2:p2/master or redis-cluster://h1:p1,h2:p2.'),
    prefix: text('a key prefix').optional().describe('Prefix of every registry key and of the event channel (registry-redis default "ambrosia").'),
    commandTimeoutMs: ms('a Redis command timeout').optional().describe('A command without an answer fails after this long (registry-redis default 2000).'),
    connectTimeoutMs: ms('a Redis connect timeout').optional().describe('A connection attempt gives up after this long, then backs off and retries (registry-redis default 5000).'),
    readyTimeoutMs: ms('how long to wait for the registry at start').default(10_000).describe('How long a process waits for the registry at start before it exits with an error.'),
  })
  .describe('Where the cluster registry (gateways, services, sessions, credentials) lives.');

const caSource = {
  caDir: path('a CA directory')
    .optional()
    .describe('Directory holding ca.crt and ca.key (`ambrosia ca init`). Default $AMBROSIA_CA_DIR or ./ambrosia-ca when no certificate files are given.'),
};

const gatewayTls = z
  .strictObject({
    ...caSource,
    channelCert: path('a certificate file').optional().describe('The gateway certificate (role gateway) for the service channel, PEM; with channelKey and caCert, instead of issuing one from the CA.'),
    channelKey: path('a key file').optional().describe('Private key of channelCert, PEM.'),
    caCert: path('a certificate file').optional().describe('The cluster CA certificate, PEM: services must present a certificate it issued.'),
  })
  .describe('TLS material: the cluster CA directory, or explicit files when the CA key is not on this host.');

const domainCertificate = z
  .strictObject({
    domain: text('a domain').describe('The XMPP domain the certificate is for.'),
    cert: path('a certificate file').describe('Certificate chain, PEM.'),
    key: path('a key file').describe('Private key, PEM.'),
  })
  .describe('A certificate for one served domain (clients see it by SNI).');

const smOptions = z
  .strictObject({
    enabled: z.boolean({ error: 'must be true or false' }).optional().describe('Offer XEP-0198 stream management (stream default true).'),
    allowResume: z.boolean({ error: 'must be true or false' }).optional().describe('Allow resumption (stream default true).'),
    resumeTimeoutMs: ms('the resumption window').optional().describe('Longest wait of a detached session for resumption (stream default 300000).'),
    maxUnackedStanzas: count('unacknowledged stanzas').optional().describe('Stanzas sent and not acknowledged per session (stream default 1000).'),
  })
  .describe('XEP-0198 stream management.');

const stream = z
  .strictObject({
    requireTls: z.boolean({ error: 'must be true or false' }).optional().describe('TLS before anything else on 5222 (stream default true).'),
    negotiationTimeoutMs: ms('the negotiation deadline').optional().describe('From connection to bound session (stream default 60000).'),
    idleTimeoutMs: ms('the idle time before a ping').optional().describe('Silence before a liveness probe (stream default 300000).'),
    pingTimeoutMs: ms('the ping answer deadline').optional().describe('Silence after the probe before the peer counts as gone (stream default 30000).'),
    drainTimeoutMs: ms('the write-congestion deadline').optional().describe('Longest time a client may leave our output unread (stream default 60000).'),
    maxSendBufferBytes: count('bytes').optional().describe('Output held for a client that does not read (stream default 1048576).'),
    maxInflightStanzas: count('stanzas').optional().describe('Client stanzas being handled at once per session before reading pauses (stream default 128).'),
    sm: smOptions.optional(),
  })
  .describe('Client stream settings (@ambrosia/stream).');

const auth = z
  .strictObject({
    decoySecretFile: path('a secret file')
      .optional()
      .describe('File holding the cluster-wide decoy secret (at least 16 bytes) when the CA key is not on this host; every gateway must use the same one.'),
    minResponseMs: z.int({ error: 'must be a whole number of milliseconds from 0 to 10000' }).min(0).max(10_000).optional().describe('Floor of every SASL answer (auth default 50).'),
  })
  .describe('Authentication settings.');

const hub = z
  .strictObject({
    stanzaTimeoutMs: ms('the service ack deadline').optional().describe('A stanza routed to a service must be acknowledged within this (gateway default 30000).'),
    maxPendingStanzas: count('stanzas').optional().describe('Stanzas routed to services and not yet acknowledged (gateway default 262144).'),
    maxConnections: count('connections').optional().describe('Service-channel connections held at once (gateway default 4352).'),
  })
  .describe('The service hub (the gateway side of the service channel).');

const countOrOff = (what: string, max = 1_000_000_000) => {
  const message = `must be a whole number from 0 (off) to ${max} (${what})`;
  return z.int({ error: message }).min(0, { error: message }).max(max, { error: message });
};
const stanzaBytes = (what: string) => {
  const message = `must be a whole number of bytes from 1024 to ${256 * 1024 * 1024} (${what})`;
  return z.int({ error: message }).min(1024, { error: message }).max(256 * 1024 * 1024, { error: message });
};
const rateLimit = (what: string, defaults: string) =>
  z
    .strictObject({
      limit: countOrOff('connections per window').optional().describe('Connections allowed per window and address; 0 = off.'),
      windowMs: ms('the window').optional().describe('The window.'),
    })
    .optional()
    .describe(`${what} (gateway default ${defaults}).`);

const limits = z
  .strictObject({
    preAuthStanzaBytes: stanzaBytes('largest stanza before authentication').optional().describe('Largest stanza before SASL success; over it policy-violation (gateway default 8192).'),
    stanzaBytes: stanzaBytes('largest stanza').optional().describe('Largest stanza after SASL success, advertised with XEP-0478; over it policy-violation (gateway default 262144).'),
    s2sStanzaBytes: stanzaBytes('largest server-to-server stanza').optional().describe('Largest stanza on server-to-server streams (gateway default 524288).'),
    serviceStanzaBytes: stanzaBytes('largest stanza from a service').optional().describe('Largest stanza a service may hand to the gateway (gateway default 524288).'),
    preAuthTimeoutMs: ms('the deadline to authenticate').optional().describe('From accept to SASL success, absolute; over it connection-timeout (gateway default 30000).'),
    maxUnauthenticatedPerIp: countOrOff('connections').optional().describe('Connections not yet authenticated per IPv4 address or IPv6 /64; 0 = off (gateway default 16).'),
    connectionRatePerIp: rateLimit('New connections per address on this gateway, sliding window', '30 per 10000 ms'),
    clusterConnectionRatePerIp: rateLimit('New connections per address across the cluster (registry counter, fixed window)', '120 per 60000 ms'),
    bytesPerSecond: countOrOff('bytes per second').optional().describe('Read rate of one connection (token bucket); 0 = off; over it reading pauses (gateway default 32768).'),
    burstBytes: count('bytes').optional().describe('Bytes a connection may send at once before the rate applies (gateway default 262144).'),
    stanzasPerSecond: countOrOff('stanzas per second').optional().describe('Stanza rate of one session; 0 = off; over it reading pauses (gateway default 50).'),
    stanzaBurst: count('stanzas').optional().describe('Stanzas a session may send at once before the rate applies (gateway default 100).'),
    maxStanzaDebt: count('stanzas').optional().describe('Stanzas beyond the rate a session may owe before it is cut with policy-violation (gateway default 200).'),
    maxTrackedAddresses: count('addresses').optional().describe('Client addresses the per-IP tables track at once; a new one beyond it is refused (gateway default 100000).'),
  })
  .describe('Edge limits on what one connection, session or client address may take (@ambrosia/edge-limits, applied by the gateway).');

/** `10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`: what the PROXY protocol's trusted set takes. */
function isAddressOrRange(value: string): boolean {
  const [address = '', prefix, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}
const addressOrRange = z
  .string({ error: 'must be an IP address or a CIDR range like 10.0.0.0/8' })
  .refine(isAddressOrRange, { error: 'must be an IP address or a CIDR range like 10.0.0.0/8' });

const PROXY_LISTENERS = ['c2s', 'c2sTls'] as const;
const proxyProtocol = z
  .strictObject({
    trusted: z
      .array(addressOrRange, { error: 'must be a list of addresses or CIDR ranges' })
      .min(1, { error: 'needs at least one address or CIDR range' })
      .describe('Load balancers allowed to send a PROXY header (addresses or CIDR ranges). A header from anyone else is refused.'),
    mode: z
      .enum(['required', 'optional'], { error: 'must be required or optional' })
      .optional()
      .describe('required (default): a trusted peer must send a header; optional: it may also connect without one.'),
    headerTimeoutMs: ms('the PROXY header deadline').optional().describe('The header must arrive within this (gateway default 5000).'),
    listeners: z
      .array(z.enum(PROXY_LISTENERS, { error: 'must be c2s or c2sTls' }), { error: 'must be a list of listeners (c2s, c2sTls)' })
      .min(1, { error: 'needs at least one listener' })
      .default([...PROXY_LISTENERS])
      .describe('The client listeners behind the load balancer.'),
  })
  .describe('HAProxy PROXY protocol v1/v2 on the client listeners: client addresses from a trusted load balancer.');

const PROCESSES = `must be "auto" or a whole number from 1 to ${MAX_PROCESSES}`;
const processes = z
  .union([z.literal('auto', { error: PROCESSES }), z.int({ error: PROCESSES }).min(1, { error: PROCESSES }).max(MAX_PROCESSES, { error: PROCESSES })], { error: PROCESSES })
  .describe('"auto": one worker process per core (node:cluster, sharing the listeners); 1: the gateway runs in the process itself.');

const gateway = z
  .strictObject({
    id: z
      .string({ error: 'must be text' })
      .regex(GATEWAY_ID, { error: 'must be 1 to 60 letters, digits, ".", "_" or "-", starting with a letter or digit' })
      .optional()
      .describe('Unique in the cluster; default gw-<hostname>-<random>. With several processes, worker n is <id>-<n>.'),
    host: text('a listen address').default('127.0.0.1').describe('Listen address of every listener ("0.0.0.0" or "::" for all).'),
    addresses: z
      .array(text('a host name or address'), { error: 'must be a list of host names or addresses' })
      .min(1, { error: 'needs at least one host name or address' })
      .optional()
      .describe('How services and redirected clients reach this gateway; default [host], or [the host name] when host is 0.0.0.0 or ::.'),
    ports: z
      .strictObject({
        c2s: listenerPort.default(5222).describe('Client port with STARTTLS (RFC 6120); 0 = any free port; null = off.'),
        c2sTls: listenerPort.default(5223).describe('Client port with direct TLS (XEP-0368); 0 = any free port; null = off.'),
        service: port.default(5347).describe('Service-channel port. With several processes worker n listens on service + n - 1 (0: a free port per worker).'),
      })
      .prefault({})
      .describe('Listening ports.'),
    processes: processes.default('auto'),
    tls: gatewayTls.prefault({}),
    domainCertificates: z.array(domainCertificate, { error: 'must be a list of { domain, cert, key }' }).optional().describe('Certificates for served domains; a domain without one gets a certificate issued from the CA at first use.'),
    auth: auth.optional(),
    stream: stream.optional(),
    maxSessions: count('connections').optional().describe('Connections held at once per process; beyond it resource-constraint (gateway default 100000).'),
    handshakeTimeoutMs: ms('the TLS handshake deadline').optional().describe('TLS handshake deadline (gateway default 10000).'),
    lingerMs: ms('the close linger').optional().describe('How long a closing connection may linger (gateway default 5000).'),
    hub: hub.optional(),
    limits: limits.optional(),
    proxyProtocol: proxyProtocol.optional(),
    stopTimeoutMs: ms('the graceful stop bound')
      .default(DEFAULT_STOP_TIMEOUT_MS)
      .describe('On SIGTERM: longest wait for clients to leave after see-other-host/system-shutdown; the process exits at most 5 s after it.'),
  })
  .superRefine((value, ctx) => {
    const files = ['channelCert', 'channelKey', 'caCert'] as const;
    const given = files.filter((key) => value.tls[key] !== undefined);
    if (given.length > 0 && given.length < files.length) {
      for (const key of files.filter((k) => value.tls[k] === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['tls', key], message: `is needed with ${given.join(' and ')} (give all three files, or none and caDir)` });
      }
    }
    if (value.ports.c2s === null && value.ports.c2sTls === null) {
      ctx.addIssue({ code: 'custom', path: ['ports'], message: 'c2s and c2sTls are both off: a gateway needs at least one client listener' });
    }
  })
  .describe('The gateway role (`ambrosia gateway`).');

const serviceTls = z
  .strictObject({
    ...caSource,
    cert: path('a certificate file').optional().describe('The service certificate (role service, `ambrosia ca issue service`), PEM.'),
    key: path('a key file').optional().describe('Private key of cert, PEM.'),
    caCert: path('a certificate file').optional().describe('The cluster CA certificate, PEM: gateways must present a certificate it issued.'),
  })
  .describe('TLS material: certificate files, or the CA directory (a service certificate for the domains is then issued at start).');

const imService = z
  .strictObject({
    domains: z
      .array(text('a domain'), { error: 'must be a list of domains' })
      .min(1, { error: 'needs at least one domain' })
      .describe('The XMPP domains served (registered as client and server).'),
    instance: text('an instance name').optional().describe('Instance name on the service channel; default <hostname>-<pid>-<random>.'),
    store: z
      .strictObject({
        url: redisUrl.optional().describe('The IM store (rosters, offline messages, archive); default registry.url.'),
        prefix: text('a key prefix').optional().describe('Prefix of every store key (im-store-redis default "ambrosia:im:").'),
      })
      .prefault({})
      .describe('Where the IM service keeps its data.'),
    tls: serviceTls.prefault({}),
    registration: z.boolean({ error: 'must be true or false' }).default(false).describe('XEP-0077 password change and account removal for signed-in users.'),
    stopTimeoutMs: ms('the graceful stop bound').default(DEFAULT_STOP_TIMEOUT_MS).describe('On SIGTERM: longest wait for handlers and acknowledgements; the process exits at most 5 s after it.'),
  })
  .superRefine((value, ctx) => {
    const files = ['cert', 'key', 'caCert'] as const;
    const given = files.filter((key) => value.tls[key] !== undefined);
    if (given.length > 0 && given.length < files.length) {
      for (const key of files.filter((k) => value.tls[k] === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['tls', key], message: `is needed with ${given.join(' and ')} (give all three files, or none and caDir)` });
      }
    }
  })
  .describe('The IM service role (`ambrosia im-service`).');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const log = z
  .strictObject({
    level: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info').describe('Lowest level written.'),
    pretty: z.boolean({ error: 'must be true or false' }).default(false).describe('One human-readable line per event instead of JSON lines.'),
  })
  .describe('Logs: JSON lines on standard output (pino).');

export const configSchema = z
  .strictObject({
    registry: registry.prefault({}),
    gateway: gateway.prefault({}),
    imService: imService.optional(),
    log: log.prefault({}),
  })
  .meta({ title: 'Ambrosia configuration', description: 'ambrosia.yaml: see docs/configuration.md. Every key may be overridden by an AMBROSIA_<PATH> environment variable.' });

export type AmbrosiaConfig = z.output<typeof configSchema>;
export type AmbrosiaConfigInput = z.input<typeof configSchema>;
export type GatewayConfig = AmbrosiaConfig['gateway'];
export type ImServiceConfig = NonNullable<AmbrosiaConfig['imService']>;
export type LogConfig = AmbrosiaConfig['log'];
export type RegistryConfig = AmbrosiaConfig['registry'];
export type LogLevel = (typeof LOG_LEVELS)[number];
export { LOG_LEVELS };

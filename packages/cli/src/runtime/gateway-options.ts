// The gateway section of the configuration mapped onto GatewayOptions. Keys the operator left
// out are left out here too, so the gateway's (and the stream's) own defaults apply.
import { hostname } from 'node:os';
import type { GatewayConfig } from '@ambrosia/config';
import type { GatewayLogger, GatewayOptions } from '@ambrosia/gateway';
import type { Registry } from '@ambrosia/registry';
import type { GatewayMaterial } from './material.js';

/** The object without its undefined values (and undefined when nothing is left). */
export function defined<T extends object>(value: T): Partial<T> | undefined {
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  return entries.length === 0 ? undefined : (Object.fromEntries(entries) as Partial<T>);
}

function streamOptions(stream: GatewayConfig['stream']): GatewayOptions['stream'] {
  if (stream === undefined) return undefined;
  const { sm, ...rest } = stream;
  return defined({ ...rest, sm: sm === undefined ? undefined : defined(sm) });
}

/** `gateway.limits` as the gateway takes it (any subset; the rate limits partially too). */
export function limitsOptions(limits: GatewayConfig['limits']): GatewayOptions['limits'] {
  if (limits === undefined) return undefined;
  const { connectionRatePerIp, clusterConnectionRatePerIp, ...rest } = limits;
  return defined({
    ...rest,
    connectionRatePerIp: connectionRatePerIp === undefined ? undefined : defined(connectionRatePerIp),
    clusterConnectionRatePerIp: clusterConnectionRatePerIp === undefined ? undefined : defined(clusterConnectionRatePerIp),
  });
}

/** `gateway.proxyProtocol`: one setting, given to each listener it names. */
export function proxyProtocolOptions(proxy: GatewayConfig['proxyProtocol']): GatewayOptions['proxyProtocol'] {
  if (proxy === undefined) return undefined;
  const { listeners, ...setting } = proxy;
  const one = { ...defined(setting), trusted: setting.trusted };
  return Object.fromEntries(listeners.map((listener) => [listener, one])) as GatewayOptions['proxyProtocol'];
}

/**
 * Where other nodes reach this gateway when `addresses` is not set: the listen address, or the
 * host name when it listens on every interface (0.0.0.0 and :: are no address to dial).
 */
export function defaultAddresses(host: string): string[] {
  return host === '0.0.0.0' || host === '::' || host === '' ? [hostname()] : [host];
}

export interface GatewayRuntimeContext {
  registry: Registry;
  logger: GatewayLogger;
  /** This process's gateway id (a worker's is `<id>-<n>`). */
  id: string | undefined;
  /** A worker's own service port (workers share the client ports but not the service port). */
  servicePort?: number;
}

export function gatewayOptions(config: GatewayConfig, material: GatewayMaterial, context: GatewayRuntimeContext): GatewayOptions {
  const auth = defined({ decoySecret: material.decoySecret, minResponseMs: config.auth?.minResponseMs });
  const hubLimits = config.hub === undefined ? undefined : defined(config.hub);
  const limits = limitsOptions(config.limits);
  const proxyProtocol = proxyProtocolOptions(config.proxyProtocol);
  return {
    registry: context.registry,
    logger: context.logger,
    ...(context.id === undefined ? {} : { id: context.id }),
    host: config.host,
    addresses: config.addresses ?? defaultAddresses(config.host),
    ports: { c2s: config.ports.c2s, c2sTls: config.ports.c2sTls, service: context.servicePort ?? config.ports.service },
    ...(material.ca === undefined ? {} : { ca: material.ca }),
    ...(material.tls === undefined ? {} : { tls: material.tls }),
    ...(material.domainCertificates === undefined ? {} : { domainCertificates: material.domainCertificates }),
    ...(auth === undefined ? {} : { auth }),
    ...(config.stream === undefined ? {} : { stream: streamOptions(config.stream) }),
    ...(config.maxSessions === undefined ? {} : { maxSessions: config.maxSessions }),
    ...(config.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: config.handshakeTimeoutMs }),
    ...(config.lingerMs === undefined ? {} : { lingerMs: config.lingerMs }),
    ...(hubLimits === undefined ? {} : { hub: { limits: hubLimits } }),
    ...(limits === undefined ? {} : { limits }),
    ...(proxyProtocol === undefined ? {} : { proxyProtocol }),
  };
}


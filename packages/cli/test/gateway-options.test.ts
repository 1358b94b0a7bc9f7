// The gateway section mapped onto GatewayOptions: what the operator left out stays out (the
// gateway's defaults apply), the edge limits and the PROXY protocol reach the gateway as it takes them.
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { configSchema } from '@ambrosia/config';
import { createMemoryRegistry } from '@ambrosia/registry';
import { defaultAddresses, gatewayOptions } from '../src/runtime/gateway-options.js';

const registry = createMemoryRegistry();
const logger = (): void => undefined;

describe('gatewayOptions', () => {
  it('passes only what is configured', () => {
    const config = configSchema.parse({ gateway: { processes: 1 } }).gateway;
    const options = gatewayOptions(config, { ca: { cert: 'C', key: 'K' } }, { registry, logger, id: 'gw-1' });
    expect(options).toEqual({ registry, logger, id: 'gw-1', host: '127.0.0.1', addresses: ['127.0.0.1'], ports: { c2s: 5222, c2sTls: 5223, service: 5347 }, ca: { cert: 'C', key: 'K' } });
  });

  it('maps stream, hub, auth, limits and the PROXY protocol', () => {
    const config = configSchema.parse({
      gateway: {
        host: '0.0.0.0',
        ports: { c2s: null },
        stream: { idleTimeoutMs: 60_000, sm: { resumeTimeoutMs: 120_000 } },
        hub: { stanzaTimeoutMs: 5_000 },
        auth: { minResponseMs: 0 },
        maxSessions: 10,
        limits: { stanzaBytes: 65_536, maxUnauthenticatedPerIp: 0, connectionRatePerIp: { limit: 5 } },
        proxyProtocol: { trusted: ['10.0.0.0/8'], listeners: ['c2sTls'], headerTimeoutMs: 1_000 },
      },
    }).gateway;
    const secret = Buffer.alloc(32, 7);
    const options = gatewayOptions(config, { decoySecret: secret }, { registry, logger, id: 'gw-2', servicePort: 6000 }) as unknown as Record<string, unknown>;
    expect(options).toMatchObject({
      host: '0.0.0.0',
      addresses: [hostname()],
      ports: { c2s: null, c2sTls: 5223, service: 6000 },
      stream: { idleTimeoutMs: 60_000, sm: { resumeTimeoutMs: 120_000 } },
      hub: { limits: { stanzaTimeoutMs: 5_000 } },
      auth: { decoySecret: secret, minResponseMs: 0 },
      maxSessions: 10,
      limits: { stanzaBytes: 65_536, maxUnauthenticatedPerIp: 0, connectionRatePerIp: { limit: 5 } },
      proxyProtocol: { c2sTls: { trusted: ['10.0.0.0/8'], headerTimeoutMs: 1_000 } },
    });
    expect(options.proxyProtocol).not.toHaveProperty('c2s');
    expect(options.limits).not.toHaveProperty('clusterConnectionRatePerIp');
  });

  it('never announces a wildcard listen address as the address to reach', () => {
    expect(defaultAddresses('0.0.0.0')).toEqual([hostname()]);
    expect(defaultAddresses('::')).toEqual([hostname()]);
    expect(defaultAddresses('10.1.2.3')).toEqual(['10.1.2.3']);
  });
});

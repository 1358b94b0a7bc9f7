// The hub logs through the gateway's one logger shape (../c2s/log.ts): stable event names, flat
// fields (client-supplied identifiers only under fixed keys), wrapped so a throwing logger never
// breaks routing. The Hub* names stay as the public aliases.
export { safeLogger, silentLogger, type GatewayLogger as HubLogger, type LogLevel as HubLogLevel } from '../c2s/log.js';

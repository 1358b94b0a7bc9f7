export { XmppConnection, LoginError, type LoadTarget, type Account, type ConnectionOptions } from './connection.js';
export { SaltedPasswordCache, ScramClient, plainResponse, SCRAM_MECHANISMS, type ScramHash } from './scram.js';
export { Fleet, type OpenOptions, type OpenResult, type ExchangeOptions, type ExchangeResult } from './fleet.js';
export { LatencySamples, percentilesOf, processFigures, processTreeFigures, cpuSecondsSince, type ProcessFigures } from './stats.js';
export { createLoadRunner, seededCache, type LoadRunner, type RunnerOptions, type ScramSeed } from './runner.js';

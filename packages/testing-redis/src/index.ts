/**
 * @ambrosia/testing-redis: real Redis topologies (standalone, Sentinel, Cluster) on free loopback
 * ports for tests and benchmarks. Never a mock, never the machine's port 6379. See README.md.
 */
export { freePort } from './ports.js';
export { startRedis, type RedisServer, type StartRedisOptions } from './server.js';
export { stopAll } from './lifecycle.js';
export { TestingRedisError, RedisReplyError, type TestingRedisErrorCode } from './errors.js';
export { sendCommand, sendCommands, type RedisAddress, type RespValue, type RespArgument, type CommandOptions } from './resp.js';
export { startSentinelGroup, type SentinelGroup, type StartSentinelGroupOptions } from './sentinel.js';
export { startCluster, type RedisCluster, type StartClusterOptions } from './cluster.js';

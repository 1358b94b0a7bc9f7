// @ambrosia/registry: everything more than one node must know (docs/registry.md).
// The compliance suite every implementation runs is a separate entry: @ambrosia/registry/compliance.

export * from './types.js';
export { RegistryError, isRegistryError, REGISTRY_ERROR_CODES, type RegistryErrorCode } from './errors.js';
export { systemClock, ManualClock, type Clock } from './clock.js';
export { createRegistry, type RegistryOptions } from './client.js';
export { createMemoryRegistry, MemoryStore, MemoryBackend, type MemoryRegistryOptions, type MemoryStoreOptions } from './memory.js';
export type {
  RegistryBackend,
  BackendSignal,
  BindExpectation,
  ServiceRegisterArgs,
  ServiceRegisterResult,
  ServiceSetAttributesArgs,
  StoredGateway,
  StoredInstance,
  StoredResumption,
  StoredSeeOtherHost,
  StoredSession,
} from './backend.js';
export { MAX_IDENTIFIER_BYTES, MAX_PAGE_LIMIT, DEFAULT_PAGE_LIMIT } from './validate.js';
export { MAX_WIRE_EVENT_BYTES } from './wire-events.js';

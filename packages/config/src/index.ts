// @ambrosia/config: ambrosia.yaml and its AMBROSIA_* environment overrides, validated with one
// readable line per problem (docs/configuration.md), and the JSON Schema of the file.
export {
  configSchema,
  DEFAULT_CA_DIR,
  DEFAULT_REGISTRY_URL,
  DEFAULT_STOP_TIMEOUT_MS,
  LOG_LEVELS,
  MAX_PROCESSES,
  MAX_TIMER_MS,
  type AmbrosiaConfig,
  type AmbrosiaConfigInput,
  type GatewayConfig,
  type ImServiceConfig,
  type LogConfig,
  type LogLevel,
  type RegistryConfig,
} from './schema.js';
export { loadConfig, DEFAULT_CONFIG_FILE, MAX_CONFIG_BYTES, MAX_YAML_ALIASES, type LoadConfigOptions, type LoadedConfig } from './load.js';
export { checkConfigFiles, configFileProblems, CA_FILES, MAX_MATERIAL_BYTES, MIN_DECOY_SECRET_BYTES, type Role } from './files.js';
export { envName, envTable, readEnvOverrides, CA_DIR_ENV, CONFIG_FILE_ENV, ENV_PREFIX, MAX_ENV_VALUE_CHARS, type EnvOverride } from './env.js';
export { configJsonSchema, configLeaves, pathKeyNames, SCHEMA_ID, type ConfigLeaf, type JsonSchema } from './json-schema.js';
export { ConfigError, isConfigError, formatProblem, formatPath, CONFIG_EXIT_CODE, type ConfigProblem } from './problems.js';

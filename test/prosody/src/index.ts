export { startProsody, prosodyInstalled, type StartProsodyOptions, type RunningProsody } from './prosody.js';
export { writeProsodyAccounts, encodeProsodyPathPart, type ProsodyAccount, type ProsodyScramRecord } from './accounts.js';
export { DEFAULT_PROSODY_MODULES, prosodyConfig, type ProsodyConfigInput } from './config.js';

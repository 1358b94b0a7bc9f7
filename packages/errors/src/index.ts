export * from './conditions.js';
export * from './errors.js';

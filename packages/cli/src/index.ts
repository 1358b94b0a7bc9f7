export { main, buildProgram } from './main.js';
export { CliError, isCliError, createOutput, type Output } from './output.js';
export { startDev, DEMO_USER, type DevOptions, type DevInfo, type DevSystem, type DevAccount } from './dev.js';

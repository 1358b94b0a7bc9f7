export { main, buildProgram } from './main.js';
export { CliError, isCliError, createOutput, type Output } from './output.js';

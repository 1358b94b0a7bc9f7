import { Command, CommanderError } from 'commander';
import { EXIT_FAILURE, EXIT_USAGE, createOutput, isCliError, type Output } from './output.js';
import { registerCaCommands } from './commands/ca.js';
import { registerCheckCommand } from './commands/check.js';
import { registerDevCommand } from './commands/dev.js';
import { registerGatewayCommand } from './commands/gateway.js';
import { registerGatewaysCommands } from './commands/gateways.js';
import { registerImServiceCommand } from './commands/im-service.js';
import { registerSeeOtherHostCommands } from './commands/see-other-host.js';
import { registerServicesCommands } from './commands/services.js';
import { registerSessionsCommands } from './commands/sessions.js';
import { registerUserCommands } from './commands/user.js';

export interface MainOptions {
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
}

export function buildProgram(getOutput: () => Output, io: MainOptions = {}): Command {
  const program = new Command('ambrosia')
    .description('Ambrosia: a scalable XMPP gateway cluster')
    .option('--json', 'machine-readable output')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout ?? ((s) => process.stdout.write(s)),
      writeErr: io.stderr ?? ((s) => process.stderr.write(s)),
    });
  registerDevCommand(program, getOutput);
  registerUserCommands(program, getOutput);
  registerCaCommands(program, getOutput);
  registerGatewaysCommands(program, getOutput);
  registerServicesCommands(program, getOutput);
  registerSessionsCommands(program, getOutput);
  registerSeeOtherHostCommands(program, getOutput);
  registerGatewayCommand(program);
  registerImServiceCommand(program);
  registerCheckCommand(program, getOutput);
  return program;
}

/** Runs the CLI and returns the exit code: 0 success, 1 failure, 2 usage error. */
export async function main(argv: string[], io: MainOptions = {}): Promise<number> {
  let output: Output | undefined;
  const getOutput = (): Output => (output ??= createOutput({ json: Boolean(program.opts().json), ...io }));
  const program = buildProgram(getOutput, io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    const out = getOutput();
    if (isCliError(e)) {
      out.error(`ambrosia: ${e.message}`);
      return e.exitCode;
    }
    out.error(`ambrosia: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return EXIT_FAILURE;
  }
}

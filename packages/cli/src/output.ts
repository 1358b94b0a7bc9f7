// Every command writes through an Output so that human text and `--json` stay in one place
// and tests can capture both without touching process streams.

export interface Output {
  json: boolean;
  /** A result: printed as JSON with --json, else through `human`. */
  result(value: unknown, human: (value: any) => string): void;
  info(line: string): void;
  error(line: string): void;
}

export function createOutput(options: { json: boolean; stdout?: (s: string) => void; stderr?: (s: string) => void }): Output {
  const stdout = options.stdout ?? ((s: string) => process.stdout.write(s));
  const stderr = options.stderr ?? ((s: string) => process.stderr.write(s));
  return {
    json: options.json,
    result(value, human) {
      stdout(options.json ? `${JSON.stringify(value, null, 2)}\n` : `${human(value)}\n`);
    },
    info(line) {
      if (!options.json) stdout(`${line}\n`);
    },
    error(line) {
      stderr(`${line}\n`);
    },
  };
}

/** An error meant for the person at the terminal: its message is printed as is, with its exit code. */
export class CliError extends Error {
  readonly isCliError = true;
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly code = 'CLI_ERROR',
  ) {
    super(message);
  }
}

export function isCliError(e: unknown): e is CliError {
  return typeof e === 'object' && e !== null && (e as { isCliError?: unknown }).isCliError === true;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

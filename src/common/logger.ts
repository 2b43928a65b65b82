/**
 * The logging surface the engine needs. VS Code's LogOutputChannel satisfies it structurally; the
 * CLI passes a stderr logger (with --verbose) or a silent one.
 */
export interface Logger {
  trace(message: string, ...args: unknown[]): void;
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string | Error, ...args: unknown[]): void;
}

export const silentLogger: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

export function streamLogger(write: (line: string) => void): Logger {
  const at = (level: string) => (message: string | Error, ...args: unknown[]) =>
    write(`[${level}] ${message instanceof Error ? message.stack ?? message.message : message}${args.length ? ' ' + args.map(String).join(' ') : ''}`);
  return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

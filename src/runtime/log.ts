// Structured logging: pino JSON lines on stdout, pretty when stdout is a terminal. Every line
// carries node_id; actor loggers add `actor`.
import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LogOptions {
  level: LevelWithSilent;
  nodeId: string;
  /** Human-readable output; defaults to whether stdout is a TTY. */
  pretty?: boolean;
  /**
   * Where lines go; defaults to stdout. Tests pass a stream to capture them; it receives the lines
   * of the main thread and of inline actors only (a worker thread cannot write to it, so threaded
   * actors always log to stdout).
   */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LogOptions): Logger {
  const base = { node_id: opts.nodeId };
  const usePretty = opts.pretty ?? Boolean(process.stdout.isTTY);
  if (usePretty) {
    return pino({ level: opts.level, base }, pretty({ sync: true, colorize: true, destination: opts.destination ?? 1 }));
  }
  if (opts.destination) return pino({ level: opts.level, base }, opts.destination);
  return pino({ level: opts.level, base }, pino.destination({ dest: 1, sync: true }));
}

// Structured JSON logs (pino): one root logger, one child per component with its bindings.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env.DPMON_LOG_LEVEL ?? 'info';
  return pino(
    { level, base: { service: 'dpmon' }, timestamp: pino.stdTimeFunctions.isoTime },
    options.destination ?? process.stdout,
  );
}

/** A logger that writes nothing, for tests and libraries used without one. */
export const silentLogger: Logger = pino({ level: 'silent' });

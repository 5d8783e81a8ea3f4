import { pino } from 'pino'

/** The logging surface the node uses (a subset of pino's). */
export interface Logger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
  debug(obj: object, msg?: string): void
  child(bindings: Record<string, unknown>): Logger
}

/** A pino logger writing JSON lines to stderr (stdout stays free for machine-readable output). */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({ level: options.level ?? process.env.MAILWEAVE_LOG_LEVEL ?? 'info', name: options.name }, pino.destination(2))
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}

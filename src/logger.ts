/**
 * The one place the logger is made. Patient fields and secrets are redacted here,
 * once, so no call site has to remember; modules take a child with their name bound.
 */
import { pino, destination, stdTimeFunctions, type Logger as PinoLogger, type DestinationStream } from 'pino';

export type Logger = PinoLogger;

/** Keys that may carry patient data or secrets. Readings themselves are never logged. */
export const REDACT_KEYS = [
  'patientId',
  'patient',
  'patientName',
  'name',
  'value',
  'values',
  'reading',
  'readings',
  'payload',
  'password',
  'passphrase',
  'key',
  'token',
] as const;

const REDACT_PATHS = REDACT_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export interface LoggerOptions {
  level?: string;
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.WARDGATE_LOG_LEVEL ?? 'info';
  const options = {
    level,
    base: { app: 'wardgate' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: stdTimeFunctions.isoTime,
  };
  return opts.destination ? pino(options, opts.destination) : pino(options, destination({ fd: 2, sync: false }));
}

/** A logger that writes nothing (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

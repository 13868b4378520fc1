/**
 * The one place the logger is made. Patient fields and secrets are redacted here,
 * once, so no call site has to remember; modules take a child with their name bound.
 */
import { type DestinationStream, destination, type Logger as PinoLogger, pino, stdTimeFunctions } from 'pino';

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

/** Every child of a logger made here (weakly held), so that a new level reaches them all (SIGHUP reload). */
const families = new WeakMap<Logger, Set<WeakRef<Logger>>>();

/** Sets the level of a logger made by createLogger and of every child it has given out (pino children keep their own level). */
export function setLogLevel(root: Logger, level: string): void {
  root.level = level;
  for (const ref of families.get(root) ?? []) {
    const child = ref.deref();
    if (child) child.level = level;
    else families.get(root)!.delete(ref);
  }
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.WARDGATE_LOG_LEVEL ?? 'info';
  const children = new Set<WeakRef<Logger>>();
  const options = {
    level,
    onChild: (child: Logger) => {
      children.add(new WeakRef(child));
    },
    base: { app: 'wardgate' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: stdTimeFunctions.isoTime,
  };
  const root = opts.destination ? pino(options, opts.destination) : pino(options, destination({ fd: 2, sync: false }));
  families.set(root, children);
  return root;
}

/** A logger that writes nothing (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * The one place the logger is made. Patient fields and secrets are redacted here,
 * once, so no call site has to remember; modules take a child with their name bound.
 */
import { type DestinationStream, destination, type Logger as PinoLogger, pino, stdTimeFunctions } from 'pino';

export type Logger = PinoLogger;

/** Keys that may carry patient data or secrets. Readings themselves are never logged. */
const REDACT_KEYS = [
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
  /** Human-readable lines (`--pretty`) instead of JSON, on standard error; the same events, redacted the same way. */
  pretty?: boolean;
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
  const dest = opts.destination ?? (opts.pretty ? prettyDestination(process.stderr) : destination({ fd: 2, sync: false }));
  const root = pino(options, dest);
  families.set(root, children);
  return root;
}

/** A logger that writes nothing (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/**
 * One JSON log line as a human reads it: `12:03:04.567 WARN  [module/family] message  key=value ...`
 * (time of day in UTC). A line that is not JSON is returned as it is.
 */
export function prettyLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof o !== 'object' || o === null) return line;
  const { level, time, msg, app: _app, module, family, ...rest } = o;
  const t = typeof time === 'string' ? time.slice(11, 23) : '';
  const name = (LEVEL_NAMES[level as number] ?? String(level)).padEnd(5);
  const where = [module, family].filter((x) => typeof x === 'string').join('/');
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${t} ${name} ${where ? `[${where}] ` : ''}${typeof msg === 'string' ? msg : ''}${fields ? `  ${fields}` : ''}`;
}

/** A pino destination that writes each JSON line as prettyLine makes it. */
function prettyDestination(out: { write(s: string): unknown }): DestinationStream {
  let pending = '';
  return {
    write(chunk: string): void {
      pending += chunk;
      for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
        out.write(`${prettyLine(pending.slice(0, i))}\n`);
        pending = pending.slice(i + 1);
      }
    },
  };
}

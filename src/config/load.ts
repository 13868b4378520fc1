/** Reads, validates and completes the configuration. Errors name the bad field and why. */
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { type Config, configSchema } from './schema.js';

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(problems.length ? `${message}\n${problems.map((p) => `  - ${p}`).join('\n')}` : message);
    this.name = 'ConfigError';
  }
}

function pathOf(path: readonly PropertyKey[]): string {
  return path.length
    ? path
        .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
        .join('.')
        .replace(/\.\[/g, '[')
    : '(top level)';
}

export interface ValidateOptions {
  /**
   * Environment whose WARDGATE_* overrides are applied to the raw object before it is
   * validated, so they get the same checks as the file (default process.env; null: none).
   */
  env?: NodeJS.ProcessEnv | null;
  /**
   * Listener port 0 means "any free port" (the operating system picks one; `addresses()` of the
   * adapter says which). Only for programs that embed the gateway and ask for it explicitly
   * (tests, benchmarks): a sensor could not find such a port. Default false, like configuration
   * files, environment overrides and the command line, which have no way to set it.
   */
  allowAnyFreePort?: boolean;
  /** Told of each deprecated setting the configuration uses (default: a line on stderr). */
  onDeprecated?: (message: string) => void;
}

/** Environment variables that override a setting, by the setting's path. */
const ENV_OVERRIDES = {
  'buffer.keyFile': 'WARDGATE_KEY_FILE',
  'kafka.brokers': 'WARDGATE_KAFKA_BROKERS',
  'kafka.sasl.password': 'WARDGATE_KAFKA_PASSWORD',
} as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deprecated names the configuration still accepts: what to write instead, for each use. */
function deprecations(raw: unknown): string[] {
  const mqtt = isObject(raw) && isObject(raw.devices) ? raw.devices.mqtt : undefined;
  const rules = isObject(mqtt) && Array.isArray(mqtt.rules) ? mqtt.rules : [];
  return rules.flatMap((rule, i) =>
    isObject(rule) && rule.priority !== undefined ? [`devices.mqtt.rules[${i}].priority is deprecated: write class (the same values)`] : [],
  );
}

/** Applies the environment's overrides to a raw (unvalidated) configuration object. Returns the paths it set. */
function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  const set: string[] = [];
  const section = (name: string): Record<string, unknown> => {
    if (!isObject(raw[name])) raw[name] = {};
    return raw[name] as Record<string, unknown>;
  };
  // Under systemd (StateDirectory=wardgate) the data folder defaults to $STATE_DIRECTORY, not to
  // ./wardgate-data (under ProtectSystem=strict only the state directory is writable).
  if (env.STATE_DIRECTORY && section('gateway').dataDir === undefined) {
    const first = env.STATE_DIRECTORY.split(':')[0];
    if (first) section('gateway').dataDir = first;
  }
  if (env.WARDGATE_KEY_FILE) {
    section('buffer').keyFile = env.WARDGATE_KEY_FILE;
    set.push('buffer.keyFile');
  }
  if (env.WARDGATE_KAFKA_BROKERS !== undefined && env.WARDGATE_KAFKA_BROKERS !== '') {
    // Empty entries are kept, so ',,,' or 'a:1,,b:2' is refused naming the entry rather than silently shortened.
    section('kafka').brokers = env.WARDGATE_KAFKA_BROKERS.split(',').map((s) => s.trim());
    set.push('kafka.brokers');
  }
  // Only where a sasl block exists: a password alone does not turn SASL on (the gateway says so at start).
  const kafka = raw.kafka;
  if (env.WARDGATE_KAFKA_PASSWORD && isObject(kafka) && isObject(kafka.sasl)) {
    kafka.sasl.password = env.WARDGATE_KAFKA_PASSWORD;
    set.push('kafka.sasl.password');
  }
  return set;
}

/** Listener ports set to 0 ("any free port"), as problems. */
function anyFreePortProblems(c: Config): string[] {
  const out: string[] = [];
  if (c.metrics.port === 0) out.push('metrics.port');
  const e = c.devices.mqtt?.embedded;
  for (const kind of ['tcp', 'tls', 'ws'] as const) if (e?.[kind]?.port === 0) out.push(`devices.mqtt.embedded.${kind}.port`);
  return out.map((p) => `${p}: must be a port from 1 to 65535 (0, "any free port", would leave the devices unable to find it)`);
}

/** External MQTT broker URLs whose port is not 1-65535 (the schema checks only their form). */
function brokerUrlProblems(c: Config): string[] {
  const out: string[] = [];
  (c.devices.mqtt?.external ?? []).forEach((x, i) => {
    let port: string;
    try {
      port = new URL(x.url).port;
    } catch {
      out.push(`devices.mqtt.external[${i}].url: not a valid URL`);
      return;
    }
    const n = Number(port);
    if (port !== '' && !(Number.isInteger(n) && n >= 1 && n <= 65535)) out.push(`devices.mqtt.external[${i}].url: the port must be from 1 to 65535`);
  });
  return out;
}

/** Validates a parsed object; `source` names it in errors. Environment overrides are applied first and checked like the file. */
export function validateConfig(raw: unknown, source = 'config', opts: ValidateOptions = {}): Config {
  const env = opts.env === undefined ? process.env : opts.env;
  const input = isObject(raw) ? structuredClone(raw) : (raw ?? {});
  const fromEnv = env && isObject(input) ? applyEnv(input, env) : [];
  const r = configSchema.safeParse(input);
  if (!r.success) {
    throw new ConfigError(
      `${source}: invalid configuration`,
      r.error.issues.map((i) => {
        const path = pathOf(i.path);
        const over = fromEnv.find((p) => path === p || path.startsWith(`${p}[`) || path.startsWith(`${p}.`));
        // The problem names the variable; never its value (it may be a secret).
        return `${path}${over ? ` (from ${ENV_OVERRIDES[over as keyof typeof ENV_OVERRIDES]})` : ''}: ${i.message}`;
      }),
    );
  }
  const problems = [...brokerUrlProblems(r.data), ...(opts.allowAnyFreePort === true ? [] : anyFreePortProblems(r.data))];
  if (problems.length) throw new ConfigError(`${source}: invalid configuration`, problems);
  const onDeprecated = opts.onDeprecated ?? ((m: string) => process.stderr.write(`wardgate: ${m}\n`));
  for (const d of deprecations(input)) onDeprecated(`${source}: ${d}`);
  return r.data;
}

export function parseConfigText(text: string, source: string): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    // Where and what kind of mistake, never the text around it (it may be a password).
    const first =
      e instanceof YAMLParseError
        ? (e.message.split('\n')[0] ?? '').replace(/:\s*$/, '')
        : `${(e as Error).name ?? 'error'} (e.g. an alias without its anchor)`;
    throw new ConfigError(`${source}: not valid YAML`, [first]);
  }
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError(`${source}: invalid configuration`, ['(top level): expected a mapping of sections (gateway, buffer, kafka, devices, ...)']);
  }
  return validateConfig(raw, source);
}

export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseConfigText(text, file);
}

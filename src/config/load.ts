/** Reads, validates and completes the configuration. Errors name the bad field and why. */
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { configSchema, type Config } from './schema.js';

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
  return path.length ? path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[') : '(top level)';
}

/** Validates a parsed object; `source` names it in errors. */
export function validateConfig(raw: unknown, source = 'config'): Config {
  const r = configSchema.safeParse(raw ?? {});
  if (!r.success) {
    throw new ConfigError(
      `${source}: invalid configuration`,
      r.error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`),
    );
  }
  return applyEnv(r.data);
}

/** Secrets may come from the environment instead of the file. */
function applyEnv(c: Config, env: NodeJS.ProcessEnv = process.env): Config {
  if (env.WARDGATE_KEY_FILE) c.buffer.keyFile = env.WARDGATE_KEY_FILE;
  if (env.WARDGATE_KAFKA_PASSWORD && c.kafka.sasl) c.kafka.sasl.password = env.WARDGATE_KAFKA_PASSWORD;
  if (env.WARDGATE_KAFKA_BROKERS) c.kafka.brokers = env.WARDGATE_KAFKA_BROKERS.split(',').map((s) => s.trim()).filter(Boolean);
  return c;
}

export function parseConfigText(text: string, source: string): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    const msg = e instanceof YAMLParseError ? e.message : String(e);
    throw new ConfigError(`${source}: not valid YAML`, [msg.split('\n')[0] ?? msg]);
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

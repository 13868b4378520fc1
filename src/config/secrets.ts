/**
 * What `config check` can say about the secret files a configuration names: each must be
 * readable by the service user only (like the key file). Messages name the setting and the
 * file, never the content. TLS private keys are also checked when the gateway starts
 * (`checkTlsKeyFiles`): a refused one stops the start with exit 2.
 */
import { existsSync } from 'node:fs';
import { describeKeyFile } from '../crypto/keys.js';
import { checkPrivateFile } from '../secret-file.js';
import type { Config } from './schema.js';

/** The TLS private key files the configuration uses (setting path and file): Kafka client, embedded MQTT listener, external MQTT brokers. */
function tlsKeyFiles(c: Config): { setting: string; path: string }[] {
  const out: { setting: string; path: string }[] = [];
  if (c.kafka.tls?.enabled && c.kafka.tls.key !== undefined) out.push({ setting: 'kafka.tls.key', path: c.kafka.tls.key });
  const m = c.devices.mqtt;
  if (m && m.enabled !== false) {
    if (m.embedded?.tls) out.push({ setting: 'devices.mqtt.embedded.tls.key', path: m.embedded.tls.key });
    m.external.forEach((x, i) => {
      if (x.tls?.key !== undefined) out.push({ setting: `devices.mqtt.external[${i}].tls.key`, path: x.tls.key });
    });
  }
  return out;
}

/** Refuses (ConfigurationError, exit 2) a TLS private key file that group or others can read, or another user owns, naming the setting and file. */
export function checkTlsKeyFiles(c: Config): void {
  for (const k of tlsKeyFiles(c)) checkPrivateFile(k.path, `${k.setting}: TLS private key`);
}

export function secretFileProblems(c: Config, keyFile: string): string[] {
  const problems: string[] = [];
  const check = (setting: string, path: string): void => {
    try {
      checkPrivateFile(path, setting);
    } catch (e) {
      problems.push(`${setting}: ${(e as Error).message}`);
    }
  };
  // The key file may not exist yet (`wardgate keygen` makes it); when it does, it must be usable.
  if (existsSync(keyFile)) {
    try {
      describeKeyFile(keyFile);
    } catch (e) {
      problems.push(`buffer.keyFile: ${(e as Error).message}`);
    }
  }
  for (const k of tlsKeyFiles(c)) check(k.setting, k.path);
  if (c.kafka.sasl?.passwordFile !== undefined && !process.env.WARDGATE_KAFKA_PASSWORD) check('kafka.sasl.passwordFile', c.kafka.sasl.passwordFile);
  const usersFile = c.devices.mqtt?.enabled === false ? undefined : c.devices.mqtt?.embedded?.auth.usersFile;
  if (usersFile !== undefined) check('devices.mqtt.embedded.auth.usersFile', usersFile);
  if (c.devices.mqtt?.enabled !== false) {
    (c.devices.mqtt?.external ?? []).forEach((x, i) => {
      if (x.passwordFile !== undefined) check(`devices.mqtt.external[${i}].passwordFile`, x.passwordFile);
    });
  }
  return problems;
}

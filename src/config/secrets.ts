/**
 * What `config check` can say about the secret files a configuration names: each must be
 * readable by the service user only (like the key file). Messages name the setting and the
 * file, never the content.
 */
import { existsSync } from 'node:fs';
import { describeKeyFile } from '../crypto/keys.js';
import { checkPrivateFile } from '../secret-file.js';
import type { Config } from './schema.js';

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

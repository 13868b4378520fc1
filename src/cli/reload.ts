/**
 * SIGHUP (`systemctl reload wardgate`): the configuration file is read and validated again,
 * with the MQTT users file it names. A bad file changes nothing: the running configuration
 * stays, and the log says why. A valid one is compared with the running configuration and
 * every changed setting is named. Applied while running (LIVE): `log.level`, everything under
 * `devices` (Gateway.reload: the families that changed are reconfigured or restarted, the
 * others untouched; the MQTT users file is read again on every reload) and the Kafka topics per
 * class (`kafka.topics`, `kafka.fhir.topics`, `kafka.hl7v2.topics`). Every other change is
 * reported as needing a restart (`systemctl restart wardgate`).
 */
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { readUsersFile } from '../devices/mqtt/users-file.js';

/** Dotted paths of the settings that differ (arrays compared whole; secrets named, never shown). */
export function changedSettings(a: unknown, b: unknown, path = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => changedSettings(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path || '(top level)'];
}

/** Whether a changed setting (a dotted path from changedSettings) is applied while running. */
function isLiveSetting(path: string): boolean {
  return path === 'log.level' || path === 'devices' || path.startsWith('devices.') || /^kafka\.(topics|fhir\.topics|hl7v2\.topics)(\.|$)/.test(path);
}

export type ReloadOutcome = { ok: false; error: string } | { ok: true; config: Config; changed: string[]; applied: string[]; needsRestart: string[] };

export function reloadConfig(file: string, running: Config): ReloadOutcome {
  let next: Config;
  try {
    next = loadConfigFile(file);
    // A users file that cannot be used refuses the whole reload, like a bad configuration file.
    const usersFile = next.devices.mqtt?.enabled ? next.devices.mqtt.embedded?.auth.usersFile : undefined;
    if (usersFile !== undefined) readUsersFile(usersFile);
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  const changed = changedSettings(running, next);
  return {
    ok: true,
    config: next,
    changed,
    applied: changed.filter(isLiveSetting),
    needsRestart: changed.filter((c) => !isLiveSetting(c)),
  };
}

/**
 * The configuration running after a reload: `running` with the live settings of `next`, and
 * the device settings the gateway actually runs (a family that failed keeps its old ones).
 */
export function runningAfterReload(running: Config, next: Config, devices: Config['devices']): Config {
  const kafka = running.kafka;
  return {
    ...running,
    log: { ...running.log, level: next.log.level },
    devices,
    kafka: {
      ...kafka,
      topics: next.kafka.topics,
      ...(kafka.fhir && next.kafka.fhir ? { fhir: { ...kafka.fhir, topics: next.kafka.fhir.topics } } : {}),
      ...(kafka.hl7v2 && next.kafka.hl7v2 ? { hl7v2: { ...kafka.hl7v2, topics: next.kafka.hl7v2.topics } } : {}),
    },
  };
}

/**
 * SIGHUP (`systemctl reload wardgate`): the configuration file is read and validated again. A bad
 * file changes nothing: the running configuration stays, and the log says why. A valid one is
 * compared with the running configuration and every changed setting is named: `log.level` is
 * applied at once; every other change is reported as needing a restart (`systemctl restart wardgate`).
 */
import { ConfigError, loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';

/** Dotted paths of the settings that differ (arrays compared whole; secrets named, never shown). */
export function changedSettings(a: unknown, b: unknown, path = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => changedSettings(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path || '(top level)'];
}

/** Settings applied while running. */
export const LIVE_SETTINGS: readonly string[] = ['log.level'];

export type ReloadOutcome = { ok: false; error: string } | { ok: true; config: Config; changed: string[]; applied: string[]; needsRestart: string[] };

export function reloadConfig(file: string, running: Config): ReloadOutcome {
  let next: Config;
  try {
    next = loadConfigFile(file);
  } catch (e) {
    return { ok: false, error: e instanceof ConfigError ? e.message : String(e) };
  }
  const changed = changedSettings(running, next);
  return {
    ok: true,
    config: next,
    changed,
    applied: changed.filter((c) => LIVE_SETTINGS.includes(c)),
    needsRestart: changed.filter((c) => !LIVE_SETTINGS.includes(c)),
  };
}

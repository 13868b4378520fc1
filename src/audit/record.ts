/**
 * What goes into the audit log from a running gateway: its start, configuration and stop, and
 * the security-relevant events of src/metrics/events.ts as they are logged (rate-limited, with
 * their count): login failures and ACL denials with the source, quarantine, eviction, and the
 * salvage of a damaged buffer database (recorded as `salvage`, with the file it was moved to).
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { EventName, Events } from '../metrics/events.js';
import type { AuditLog } from './log.js';

/** Events recorded, and for device_error / client_disconnected only these reasons (authentication and ACL). */
const AUDITED: Partial<Record<EventName, ReadonlySet<string> | 'all'>> = {
  login_failed: 'all',
  unit_quarantined: 'all',
  reading_evicted: 'all',
  client_disconnected: new Set(['auth_failed', 'acl_publish', 'credentials_revoked']),
  device_error: new Set(['acl_subscribe']),
};
/** Detail fields that may be recorded (who and where; never values, payloads or secrets). */
const DETAIL_KEYS = ['source', 'user', 'username', 'clientId', 'units', 'class', 'movedTo'] as const;

/** Appends, and says so in the log when it cannot (the gateway keeps running without its audit trail). */
export function auditSafely(audit: AuditLog, log: Logger, event: string, detail: Record<string, unknown> = {}): void {
  try {
    audit.append(event, detail);
  } catch (e) {
    log.error({ err: e instanceof Error ? e.message : String(e), auditFile: audit.file, auditEvent: event }, 'cannot append to the audit log');
  }
}

/** A digest of the configuration as loaded, secrets left out (so that a change shows without revealing them). */
export function configDigest(config: Config): string {
  // The password keeps its place with no value, so JSON.stringify leaves it out and the rest reads as before.
  const sasl = config.kafka.sasl && { ...config.kafka.sasl, password: undefined };
  const shown = { ...config, kafka: { ...config.kafka, sasl } };
  return createHash('sha256').update(JSON.stringify(shown)).digest('hex');
}

export function auditEvents(audit: AuditLog, events: Events, log: Logger): () => void {
  return events.onLogged((name, labels, count, detail) => {
    const which = AUDITED[name];
    if (!which || (which !== 'all' && !which.has(labels.reason ?? ''))) return;
    const entry: Record<string, unknown> = { ...labels, count };
    for (const k of DETAIL_KEYS) if (detail?.[k] !== undefined) entry[k] = detail[k];
    // A damaged buffer database moved aside at start and salvaged (src/buffer/salvage.ts) is announced as this quarantine.
    const event = name === 'unit_quarantined' && labels.reason === 'database_corrupt' ? 'salvage' : name;
    auditSafely(audit, log, event, entry);
  });
}

/**
 * Connectivity state of the forwarder, with the reason, as operators see it in
 * `wardgate status`, metrics and logs.
 *   online   - Kafka acknowledges and the backlog fits in one batch
 *   draining - Kafka acknowledges and a backlog is being worked off
 *   degraded - a send failed recently; retrying, not yet offline
 *   offline  - Kafka unreachable, or refusing for a configuration reason; readings keep buffering
 */
export const KAFKA_STATES = ['online', 'draining', 'degraded', 'offline'] as const;
export type KafkaState = (typeof KAFKA_STATES)[number];

export interface ForwarderStatus {
  state: KafkaState;
  reason: string;
  since: number;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  /** When Kafka was last reachable before the current outage (null while online). */
  offlineSince: number | null;
  consecutiveFailures: number;
  forwarded: number;
  inFlight: number;
  configError: string | null;
}

/** Exponential backoff with full jitter between half and all of the capped delay. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const capped = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(capped * (0.5 + random() * 0.5));
}

/**
 * Health that means something: liveness (/healthz: the process answers, the event loop turns),
 * readiness (/readyz: the buffer is open and accepting readings) and the conditions an operator
 * must hear about while the gateway is alive and ready: Kafka unreachable for too long, the oldest
 * unsent reading too old, the buffer near its byte cap. Each condition is a state with its
 * threshold from the configuration (`health:`), reported in /status and as metrics, so that
 * Prometheus rules (docs/prometheus-rules.yaml) can fire. None of them makes /healthz or /readyz
 * fail: a gateway buffering through a Kafka outage is doing its job and must not be restarted.
 */
import { Gauge, type Registry } from 'prom-client';
import type { BufferStats } from '../buffer/types.js';
import type { ForwarderStatus } from '../forwarder/state.js';
import { PRIORITY_CLASSES } from '../reading.js';
import { type CertificateState, certificateProblem, secondsLeft } from './certificates.js';

export interface HealthThresholds {
  /** Kafka unreachable for at least this long (ms) is an alert. */
  kafkaOffline: number;
  /** An unsent reading (any class) older than this (ms) is an alert. */
  oldestUnsent: number;
  /** Stored bytes at or above this fraction of buffer.maxBytes is an alert. */
  bufferNearCap: number;
  /** A configured TLS certificate that ends within this long (ms), has ended, or cannot be read is an alert. */
  certificateExpiry: number;
}

export const HEALTH_CHECKS = ['kafka_unreachable', 'oldest_unsent', 'buffer_near_cap', 'certificate_expiry'] as const;
export type HealthCheckName = (typeof HEALTH_CHECKS)[number];

export interface HealthCheck {
  state: 'ok' | 'alert';
  /** What was measured (seconds, or a fraction for buffer_near_cap). */
  value: number;
  /** The configured threshold, in the same unit. */
  threshold: number;
  detail: string;
}

export interface BufferReadiness {
  open: boolean;
  damaged: boolean;
  shedding: boolean;
  /** Why commits fail, until one is durable again (null while they succeed). */
  commitFailure: string | null;
}

export interface HealthInputs {
  now: number;
  forwarder: ForwarderStatus;
  buffer: BufferStats;
  storedBytes: number;
  maxBytes: number;
  /** The configured certificate files as last read (certificates.ts); none when absent. */
  certificates?: readonly CertificateState[];
}

export function assessHealth(i: HealthInputs, t: HealthThresholds): Record<HealthCheckName, HealthCheck> {
  const offlineS = i.forwarder.offlineSince === null ? 0 : Math.max(0, i.now - i.forwarder.offlineSince) / 1000;
  let oldest: number | null = null;
  for (const p of PRIORITY_CLASSES) {
    const o = i.buffer.perClass[p].oldestGatewayTime;
    if (o !== null && (oldest === null || o < oldest)) oldest = o;
  }
  const oldestS = oldest === null ? 0 : Math.max(0, i.now - oldest) / 1000;
  const fill = i.maxBytes > 0 ? i.storedBytes / i.maxBytes : 0;
  return {
    kafka_unreachable: {
      state: i.forwarder.offlineSince !== null && offlineS * 1000 >= t.kafkaOffline ? 'alert' : 'ok',
      value: offlineS,
      threshold: t.kafkaOffline / 1000,
      detail:
        i.forwarder.offlineSince === null ? `kafka ${i.forwarder.state}` : `kafka ${i.forwarder.state} for ${offlineS.toFixed(0)} s: ${i.forwarder.reason}`,
    },
    oldest_unsent: {
      state: oldest !== null && oldestS * 1000 > t.oldestUnsent ? 'alert' : 'ok',
      value: oldestS,
      threshold: t.oldestUnsent / 1000,
      detail: oldest === null ? 'nothing waiting' : `oldest unsent reading ${oldestS.toFixed(0)} s old`,
    },
    buffer_near_cap: {
      state: fill >= t.bufferNearCap ? 'alert' : 'ok',
      value: fill,
      threshold: t.bufferNearCap,
      detail: `${i.storedBytes} of ${i.maxBytes} bytes (${(fill * 100).toFixed(1)} %)`,
    },
    certificate_expiry: certificateCheck(i.certificates ?? [], i.now, t.certificateExpiry),
  };
}

/** Seconds left of the soonest-ending certificate (0 for one that cannot be read); alert when any needs attention. */
function certificateCheck(certs: readonly CertificateState[], now: number, thresholdMs: number): HealthCheck {
  const threshold = thresholdMs / 1000;
  if (certs.length === 0) return { state: 'ok', value: 0, threshold, detail: 'no TLS certificate files configured' };
  const problems = certs.map((c) => certificateProblem(c, now, thresholdMs)).filter((p) => p !== null);
  const soonest = Math.min(...certs.map((c) => secondsLeft(c, now) ?? 0));
  return {
    state: problems.length ? 'alert' : 'ok',
    value: soonest,
    threshold,
    detail: problems.length ? problems.join('; ') : `${certs.length} certificate file(s), the soonest ends in ${(soonest / 86_400).toFixed(0)} days`,
  };
}

/** Ready = the buffer is open and accepting readings (not closed, not found damaged, not shedding for a full disk). */
export function assessReadiness(b: BufferReadiness): { ok: boolean; reason: string } {
  if (!b.open) return { ok: false, reason: 'buffer closed' };
  if (b.damaged) return { ok: false, reason: 'buffer database damaged (the next start salvages it)' };
  if (b.shedding) return { ok: false, reason: 'disk full: the buffer is shedding readings' };
  if (b.commitFailure !== null) return { ok: false, reason: `the buffer cannot commit, readings are refused: ${b.commitFailure}` };
  return { ok: true, reason: 'buffer open and accepting' };
}

/** The health states as metrics: one alert gauge and one threshold gauge per check, the buffer's fill against its cap, readiness and loop delay. */
export function healthGauges(registry: Registry) {
  const r = [registry];
  return {
    alert: new Gauge({
      name: 'wardgate_health_alert',
      help: '1 while a health check is in alert (kafka_unreachable, oldest_unsent, buffer_near_cap, certificate_expiry), 0 otherwise',
      labelNames: ['check'],
      registers: r,
    }),
    threshold: new Gauge({
      name: 'wardgate_health_threshold',
      help: 'Configured threshold of each health check (seconds; a fraction of the cap for buffer_near_cap)',
      labelNames: ['check'],
      registers: r,
    }),
    fill: new Gauge({ name: 'wardgate_buffer_fill_ratio', help: 'Stored bytes as the byte cap counts them, divided by buffer.maxBytes', registers: r }),
    capBytes: new Gauge({ name: 'wardgate_buffer_cap_bytes', help: 'The buffer byte cap (buffer.maxBytes)', registers: r }),
    ready: new Gauge({ name: 'wardgate_ready', help: '1 while the buffer is open and accepting readings (/readyz)', registers: r }),
    devices: new Gauge({
      name: 'wardgate_adapter_devices',
      help: 'Devices an adapter currently has (connected, open or seen), per family',
      labelNames: ['family'],
      registers: r,
    }),
    certificateEnd: new Gauge({
      name: 'wardgate_tls_certificate_not_after_seconds',
      help: 'When each configured TLS certificate file ends (unix seconds; a certificate file: its first; a CA bundle: its earliest; 0 when unreadable)',
      labelNames: ['use'],
      registers: r,
    }),
    loopDelay: new Gauge({ name: 'wardgate_event_loop_delay_seconds', help: 'Longest event loop delay over the last status interval', registers: r }),
  };
}
export type HealthGauges = ReturnType<typeof healthGauges>;

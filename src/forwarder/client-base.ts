/**
 * What both Kafka clients share: the options they take, the Kafka error names that decide what the
 * forwarder does, a timeout around every library call, a walk over a library error's causes, and
 * the message an error becomes (secrets scrubbed). Each client file holds only what differs.
 */
import type { Logger } from '../logger.js';
import { steadyNow } from '../steady-clock.js';
import { type ClientErrorKind, KafkaClientError } from './client.js';
import type { CompressionName } from './compression.js';
import { type ResolvedSecurity, type SaslSettings, scrubSecrets, type TlsSettings } from './security.js';

/** One config shape for every client. */
export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  compression: CompressionName;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  topicPartitions: number;
  topicReplicationFactor: number;
  tls?: TlsSettings;
  sasl?: SaslSettings;
  log: Logger;
}

/** Refusals an operator must fix (authentication, authorization, sizes): no tight retry loop. */
export const CONFIG_PROTOCOL_ERRORS: ReadonlySet<string> = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
  'POLICY_VIOLATION',
  'INVALID_REPLICATION_FACTOR',
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  // The records' timestamps (this gateway's clock at the send) are out of the range the topic takes
  // around the broker's clock: the gateway's clock is wrong (see explainClockRefusal).
  'INVALID_TIMESTAMP',
]);

/** Of those, the refusals of a record batch larger than the broker or topic takes (max.message.bytes). */
const TOO_LARGE_ERRORS: ReadonlySet<string> = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/** Whether a library's error, or one it wraps, carries one of the Kafka error names `names` (kafkajs: `type`, @platformatic/kafka: `apiId`). */
function carriesKafkaError(err: unknown, names: ReadonlySet<string>): boolean {
  let found = false;
  walkError(err, (o) => {
    if ((o.type !== undefined && names.has(o.type)) || (o.apiId !== undefined && names.has(o.apiId))) found = true;
  });
  return found;
}

/** Whether a library's error is a refusal of a too large record batch. */
export function refusedAsTooLarge(err: unknown): boolean {
  return carriesKafkaError(err, TOO_LARGE_ERRORS);
}

const CLOCK_ERRORS: ReadonlySet<string> = new Set(['INVALID_TIMESTAMP']);

/**
 * A refusal of the records' timestamps (INVALID_TIMESTAMP) made plain: Kafka 4 takes a record
 * whose timestamp is at most `message.timestamp.after.max.ms` (1 h by default) ahead of the
 * broker's clock, and at most `message.timestamp.before.max.ms` behind it. The timestamp is this
 * gateway's clock at the send, so the gateway's clock is off: a real-time clock kept in local time,
 * no time server reached since boot. Nothing is sent until it is set right, and the readings stay in
 * the buffer; the library's own words ("unexpected server error") would send the operator to the
 * network. Any other error's message is returned as it is. (No time in the text: the forwarder logs
 * a configuration error once per distinct message, and labels its counter with the message's start.)
 */
export function explainClockRefusal(err: unknown, message: string): string {
  if (!carriesKafkaError(err, CLOCK_ERRORS)) return message;
  return (
    "Kafka refused the records' timestamps (INVALID_TIMESTAMP): this gateway's clock is more than the " +
    "topic allows ahead of or behind the broker's (message.timestamp.after.max.ms, 1 h by default; message.timestamp.before.max.ms); " +
    `set the clock right (timedatectl, wardgate doctor); the readings stay in the buffer until Kafka takes them: ${message}`
  );
}

/** The idempotent producer's session is broken: a new producer is needed. */
export const FATAL_PROTOCOL_ERRORS: ReadonlySet<string> = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'DUPLICATE_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_ID_MAPPING',
  'PRODUCER_FENCED',
]);

/** Kafka's answers that refuse a write for a cluster condition (kafkajs and Kafka names of the same codes). */
export const CLUSTER_REFUSAL_ERRORS: ReadonlySet<string> = new Set([
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'REQUEST_TIMED_OUT',
  'KAFKA_STORAGE_ERROR',
]);

/**
 * Beyond the cluster refusals: a partition the broker does not host (yet), as just after its topic
 * was created. Both mean "not written, for now"; a client sends the same messages again from the
 * same producer while the send timeout allows (kafkajs-client.ts, platformatic-client.ts).
 */
export const REFUSED_FOR_NOW_ERRORS: ReadonlySet<string> = new Set(['UNKNOWN_TOPIC_OR_PARTITION']);

/**
 * The broker answered and refused (some of) a send for now: the client's `classify` says
 * 'refused', or 'transient' with something the error wraps matching `refusal` (a name from
 * REFUSED_FOR_NOW_ERRORS, in the library's own terms). Never the wrapper's own errors (its timeout).
 */
export function refusedForNowBy(err: unknown, classify: (e: unknown) => ClientErrorKind, refusal: (o: ErrorLike) => boolean): boolean {
  if (err instanceof KafkaClientError) return false;
  const kind = classify(err);
  if (kind === 'refused') return true;
  if (kind !== 'transient') return false;
  let hit = false;
  walkError(err, (o) => {
    if (refusal(o)) hit = true;
  });
  return hit;
}

/** Waits between sending again what the broker refused for now: doubling from the first, up to the cap. */
export const REFUSED_RETRY_MS = { initial: 100, max: 1000 } as const;

/**
 * Before sending again what the broker refused for now: logs (debug) and waits `wait` ms, then
 * returns the next wait; returns null at once when the wait would pass `deadline` (the send fails).
 */
export async function waitToResend(wait: number, deadline: number, log: Logger, error: string): Promise<number | null> {
  if (steadyNow() + wait >= deadline) return null;
  log.debug({ error, waitMs: wait }, 'kafka refused part of a send for now; sending the same messages again');
  await new Promise((r) => setTimeout(r, wait));
  return Math.min(wait * 2, REFUSED_RETRY_MS.max);
}

/** TLS verification failures (Node's error codes): a configuration error. */
export const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO/;

export interface ErrorLike {
  name?: string;
  type?: string;
  code?: string;
  apiId?: string;
  message?: string;
  serverErrorMessage?: string | null;
  errors?: unknown[];
  cause?: unknown;
  originalError?: unknown;
}

/** Visits an error and everything it wraps (cause, originalError, aggregated errors), each once, outermost first. */
export function walkError(err: unknown, visit: (e: ErrorLike & object) => void, maxDepth = 8): void {
  const seen = new Set<unknown>();
  const walk = (x: unknown, depth: number): void => {
    if (!x || typeof x !== 'object' || seen.has(x) || depth > maxDepth) return;
    seen.add(x);
    const o = x as ErrorLike & object;
    visit(o);
    for (const c of Array.isArray(o.errors) ? o.errors : []) walk(c, depth + 1);
    walk(o.originalError, depth + 1);
    walk(o.cause, depth + 1);
  };
  walk(err, 0);
}

/** The distinct messages of an error and what it wraps (at most four), joined, with secrets scrubbed. */
export function describeError(e: unknown, sec: ResolvedSecurity | null): string {
  const parts: string[] = [];
  walkError(
    e,
    (o) => {
      const msg = o.serverErrorMessage ? `${o.message ?? ''} (${o.serverErrorMessage})` : o.message;
      if (msg && !parts.includes(msg)) parts.push(msg);
    },
    4,
  );
  return scrubSecrets(parts.slice(0, 4).join(': ') || String(e), sec);
}

/** The library's promise, or a 'timeout' KafkaClientError after `ms`: every library call gets one. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new KafkaClientError('timeout', `${what} did not settle within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

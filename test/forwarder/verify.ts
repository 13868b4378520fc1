/**
 * Ground truth for forwarder integration tests: every topic read back with kcat (librdkafka,
 * no wardgate or kafkajs code), then checked as obligations: every committed sequence number
 * is there (or announced by a gap record), duplicates are counted, and each device's readings
 * sit in one partition per topic in sequence order (by offset).
 */
import { type KafkaRecord, readTopic } from '../helpers/kafka.js';

export interface Delivered {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  gatewayId: string;
  seq: number;
  deviceId: string;
  priority: string;
  metric: string;
  /** The reading's device time as sent (ISO 8601), when it has one. */
  deviceTime?: string;
  extra?: Record<string, unknown>;
  headerSeq: string | undefined;
  headerGateway: string | undefined;
}

export async function readDelivered(brokers: string, topics: readonly string[], opts: { expected?: number; timeoutMs?: number } = {}): Promise<Delivered[]> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let out: Delivered[] = [];
  for (;;) {
    out = [];
    for (const topic of topics) {
      let recs: KafkaRecord[];
      try {
        recs = await readTopic(brokers, topic, { timeoutMs: Math.max(5000, deadline - Date.now()) });
      } catch (e) {
        // A topic nothing was written to may not exist (createTopics makes them all, but be exact).
        if (/Unknown topic|UNKNOWN_TOPIC/i.test(String(e))) continue;
        throw e;
      }
      for (const m of recs) {
        const b = JSON.parse(m.value) as {
          gatewayId: string;
          seq: number;
          deviceId: string;
          priority: string;
          metric: string;
          deviceTime?: string;
          extra?: Record<string, unknown>;
        };
        out.push({
          topic,
          partition: m.partition,
          offset: m.offset,
          key: m.key,
          gatewayId: b.gatewayId,
          seq: b.seq,
          deviceId: b.deviceId,
          priority: b.priority,
          metric: b.metric,
          ...(b.deviceTime !== undefined ? { deviceTime: b.deviceTime } : {}),
          ...(b.extra ? { extra: b.extra } : {}),
          headerSeq: m.headers['wardgate-seq'],
          headerGateway: m.headers['wardgate-gateway-id'],
        });
      }
    }
    if (opts.expected === undefined || out.length >= opts.expected || Date.now() > deadline) return out;
    await new Promise((r) => setTimeout(r, 500));
  }
}

export interface DeliveryReport {
  /** Distinct sequence numbers delivered. */
  distinct: number;
  /** Deliveries beyond the first, per seq, summed. */
  duplicates: number;
  /** Seqs 1..lastSeq that are neither delivered nor inside a gap record's range. */
  missing: number[];
  /** Seqs 1..lastSeq not delivered but announced by a gap record. */
  announcedGaps: number;
  /** Messages whose headers disagree with the body, or that carry another gateway id. */
  badIdentity: number;
  /** Per (topic, device): first deliveries out of sequence order, or a device spread over partitions. */
  orderViolations: string[];
  /** The highest seq delivered. */
  maxSeq: number;
}

export function checkDelivery(msgs: readonly Delivered[], gatewayId: string, lastSeq: number): DeliveryReport {
  const count = new Map<number, number>();
  let badIdentity = 0;
  const gaps: [number, number][] = [];
  for (const m of msgs) {
    count.set(m.seq, (count.get(m.seq) ?? 0) + 1);
    if (m.gatewayId !== gatewayId || m.headerGateway !== gatewayId || m.headerSeq !== String(m.seq)) badIdentity++;
    if (m.metric === 'gateway_event' && m.extra?.event === 'gap') gaps.push([Number(m.extra.firstSeq), Number(m.extra.lastSeq)]);
  }
  const missing: number[] = [];
  let announcedGaps = 0;
  for (let s = 1; s <= lastSeq; s++) {
    if (count.has(s)) continue;
    if (gaps.some(([a, b]) => s >= a && s <= b)) announcedGaps++;
    else missing.push(s);
  }
  let duplicates = 0;
  for (const n of count.values()) duplicates += n - 1;

  const orderViolations: string[] = [];
  const sorted = [...msgs].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || a.offset - b.offset));
  const partitionOf = new Map<string, number>();
  const lastOf = new Map<string, number>();
  const seen = new Set<string>();
  for (const m of sorted) {
    const k = `${m.topic}|${m.deviceId}`;
    const p = partitionOf.get(k);
    if (p === undefined) partitionOf.set(k, m.partition);
    else if (p !== m.partition && orderViolations.length < 20) orderViolations.push(`${k}: in partitions ${p} and ${m.partition}`);
    const id = `${m.topic}|${m.seq}`;
    if (seen.has(id)) continue; // a duplicate: only first deliveries must be in order
    seen.add(id);
    const last = lastOf.get(k) ?? 0;
    if (m.seq <= last && orderViolations.length < 20) orderViolations.push(`${k}: seq ${m.seq} at offset ${m.offset} after seq ${last}`);
    lastOf.set(k, Math.max(last, m.seq));
  }
  let maxSeq = 0;
  for (const s of count.keys()) if (s > maxSeq) maxSeq = s;
  return { distinct: count.size, duplicates, missing, announcedGaps, badIdentity, orderViolations, maxSeq };
}

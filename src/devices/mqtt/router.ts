/**
 * One message in, readings out: find the rule, decode, map. Everything that fails is
 * counted (per rule) and logged rate-limited through the `frame_rejected` event; payloads
 * and topics are never logged. Shared by the embedded broker and the external subscriber.
 */

import type { Events } from '../../metrics/events.js';
import type { ReadingInput } from '../../reading.js';
import { type CompiledRule, findRule, type MessageSource, toInputs } from './mapping.js';
import type { MqttMetrics } from './metrics.js';

export class MessageRouter {
  constructor(
    private rules: readonly CompiledRule[],
    private readonly events: Events,
    private readonly metrics: MqttMetrics,
  ) {}

  /** New topic rules (SIGHUP): every message routed from now on uses them. */
  setRules(rules: readonly CompiledRule[]): void {
    this.rules = rules;
  }

  /**
   * The readings in the message, or null when it was rejected (already counted).
   * `levels` is the topic split on '/', when the caller has it already.
   */
  route(source: MessageSource, topic: string, payload: Buffer, now: number, levels: readonly string[] = topic.split('/')): ReadingInput[] | null {
    const m = findRule(this.rules, source, levels);
    if (!m) {
      this.reject('-', 'no_rule', source);
      return null;
    }
    let inputs: ReadingInput[] | string;
    try {
      const r = m.rule.decode(payload, now);
      inputs = r.ok ? toInputs(m, r.readings) : r.reason;
    } catch {
      // Decoders do not throw; if one ever does, the message is rejected, never the gateway.
      inputs = 'decoder_error';
    }
    if (typeof inputs === 'string') {
      this.reject(m.rule.name, inputs, source);
      return null;
    }
    return inputs;
  }

  private reject(rule: string, reason: string, source: MessageSource): void {
    this.metrics.rejected.inc({ rule, reason });
    this.events.emit('frame_rejected', { family: 'mqtt', reason }, 1, { rule, source });
  }
}

import { describe, expect, it } from 'vitest';
import { compileRules, findRule, toInputs } from '../../src/devices/mqtt/mapping.js';
import { mqttMetrics } from '../../src/devices/mqtt/metrics.js';
import { MessageRouter } from '../../src/devices/mqtt/router.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { mqttConfig } from './helpers/context.js';

const NOW = Date.UTC(2025, 5, 1);
const config = mqttConfig({
  enabled: true,
  external: [{ name: 'hosp', url: 'mqtt://127.0.0.1:1883', clientId: 'gw', subscriptions: ['#'] }],
  rules: [
    { name: 'pumps', source: 'external', topic: 'icu/{bed}/pump/{device}/{metric}', deviceId: 'pump-{device}', metric: '{metric}', decoder: { type: 'text' } },
    { name: 'alarm', topic: 'ward/{bed}/{device}/alarm', metric: 'spo2', class: 'alarm', decoder: { type: 'text' } },
    { name: 'fallback', topic: 'ward/{bed}/{device}/{metric}', metric: '{metric}', unit: '%', decoder: { type: 'text' } },
  ],
});
const rules = compileRules(config.rules);

describe('topic rules', () => {
  it('takes the first matching rule for the source', () => {
    expect(findRule(rules, 'embedded', 'ward/1/ox/alarm'.split('/'))?.rule.name).toBe('alarm');
    expect(findRule(rules, 'embedded', 'ward/1/ox/spo2'.split('/'))?.rule.name).toBe('fallback');
    expect(findRule(rules, 'external', 'icu/2/pump/p9/glucose'.split('/'))?.rule.name).toBe('pumps');
    expect(findRule(rules, 'embedded', 'icu/2/pump/p9/glucose'.split('/'))).toBeUndefined();
  });

  it('fills device id, bed, metric, unit and priority from rule and captures', () => {
    const m = findRule(rules, 'external', 'icu/2/pump/p9/glucose'.split('/'))!;
    expect(toInputs(m, [{ value: 5.5, unit: 'mmol/L', time: NOW }])).toEqual([
      { deviceId: 'pump-p9', deviceKind: 'mqtt', bed: '2', metric: 'glucose', value: 5.5, unit: 'mmol/L', deviceTime: NOW },
    ]);
    const a = findRule(rules, 'embedded', 'ward/5/ox/alarm'.split('/'))!;
    expect(toInputs(a, [{ value: 85 }])).toEqual([{ deviceId: 'ox', deviceKind: 'mqtt', bed: '5', metric: 'spo2', value: 85, priorityClass: 'alarm' }]);
    const f = findRule(rules, 'embedded', 'ward/5/ox/spo2'.split('/'))!;
    expect(toInputs(f, [{ value: 97, converted: true }])).toEqual([
      { deviceId: 'ox', deviceKind: 'mqtt', bed: '5', metric: 'spo2', value: 97, unit: '%', quality: ['unit_converted'] },
    ]);
  });

  it('refuses a topic whose captured level is empty', () => {
    const m = findRule(rules, 'embedded', 'ward//ox/spo2'.split('/'))!;
    expect(toInputs(m, [{ value: 97 }])).toBe('bad_topic');
  });

  it('router counts unmapped topics and bad payloads per rule, and returns readings otherwise', async () => {
    const events = new Events(silentLogger());
    const metrics = mqttMetrics(events.registry);
    const router = new MessageRouter(rules, events, metrics);
    expect(router.route('embedded', 'other/topic', Buffer.from('1'), NOW)).toBeNull();
    expect(router.route('embedded', 'ward/1/ox/spo2', Buffer.from('high'), NOW)).toBeNull();
    expect(router.route('embedded', 'ward/1/ox/spo2', Buffer.from('97'), NOW)).toHaveLength(1);
    expect(await events.count('frame_rejected', { family: 'mqtt', reason: 'no_rule' })).toBe(1);
    expect(await events.count('frame_rejected', { family: 'mqtt', reason: 'bad_text' })).toBe(1);
    const per = await metrics.rejected.get();
    expect(per.values.map((v) => [v.labels.rule, v.labels.reason, v.value])).toEqual([
      ['-', 'no_rule', 1],
      ['fallback', 'bad_text', 1],
    ]);
  });
});

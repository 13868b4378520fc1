/** An MQTT rule's priority class: `class`, with `priority` still accepted as its deprecated name. */
import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../src/config/load.js';
import { compileRules, findRule, toInputs } from '../../src/devices/mqtt/mapping.js';

const rule = (device: string, extra: Record<string, unknown>) => ({
  topic: `ward/{bed}/${device}/alarm`,
  deviceId: device,
  metric: 'spo2',
  decoder: { type: 'text' },
  ...extra,
});
const load = (rules: unknown[], warnings: string[]) =>
  validateConfig({ devices: { mqtt: { enabled: true, embedded: { tcp: { host: '127.0.0.1', port: 0 } }, rules } } }, 'test.yaml', {
    env: null,
    allowAnyFreePort: true,
    onDeprecated: (m) => warnings.push(m),
  });

/** The priority class of a reading published by `device` under the loaded rules. */
function classOf(rules: unknown[], device: string, warnings: string[] = []) {
  const compiled = compileRules(load(rules, warnings).devices.mqtt?.rules ?? []);
  const inputs = toInputs(findRule(compiled, 'embedded', ['ward', '5', device, 'alarm'])!, [{ value: 85 }]);
  if (typeof inputs === 'string') throw new Error(inputs);
  return inputs[0]!.priorityClass;
}

describe('MQTT rule class', () => {
  it('class sets the priority class of the rule readings, without a warning', () => {
    const warnings: string[] = [];
    expect(classOf([rule('ox', { class: 'alarm' })], 'ox', warnings)).toBe('alarm');
    expect(classOf([rule('ox', { class: 'status' })], 'ox', warnings)).toBe('status');
    expect(warnings).toEqual([]);
  });

  it('priority, the deprecated name, still sets it and warns once per use, naming the rule and what to write', () => {
    const warnings: string[] = [];
    const rules = [rule('ox', { class: 'status' }), rule('pump', { priority: 'alarm' })];
    expect(classOf(rules, 'pump', warnings)).toBe('alarm');
    expect(warnings).toEqual(['test.yaml: devices.mqtt.rules[1].priority is deprecated: write class (the same values)']);
    expect(classOf(rules, 'ox')).toBe('status');
  });

  it('no class: the rule leaves the class to the metric', () => {
    expect(classOf([rule('ox', {})], 'ox')).toBeUndefined();
  });

  it('both class and priority on one rule is a configuration error naming the setting', () => {
    const both = () => load([rule('ox', { class: 'alarm', priority: 'vital' })], []);
    expect(both).toThrow(ConfigError);
    expect(both).toThrow(/devices\.mqtt\.rules\[0\]\.priority: priority is the deprecated name of class/);
  });
});

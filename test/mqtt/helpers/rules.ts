/** Topic rules matching the simulated sensors of hardware-mocks/mqtt-sensors.ts. */
import type { MqttConfigInput } from '../../../src/devices/mqtt/config.js';

export const SENSOR_RULES: NonNullable<MqttConfigInput['rules']> = [
  {
    name: 'ox-json',
    topic: 'ward/{bed}/{device}/vitals',
    decoder: {
      type: 'json',
      fields: [
        { value: 'spo2', metric: 'spo2', unit: '%' },
        { value: 'pr', metric: 'pulse_rate_oximeter', unit: '/min' },
      ],
      time: 'ts',
    },
  },
  { name: 'ox-senml', topic: 'ward/{bed}/{device}/senml', decoder: { type: 'senml', names: { pr: 'pulse_rate_oximeter' } } },
  { name: 'ox-text', topic: 'ward/{bed}/{device}/spo2', metric: 'spo2', unit: '%', decoder: { type: 'text' } },
  {
    name: 'ox-bin',
    topic: 'ward/{bed}/{device}/bin',
    decoder: {
      type: 'binary',
      length: 7,
      fields: [
        { offset: 0, type: 'uint8', metric: 'spo2', unit: '%' },
        { offset: 1, type: 'uint16be', metric: 'pulse_rate_oximeter', unit: '/min', scale: 0.1 },
      ],
      time: { offset: 3, type: 'uint32be', unit: 's' },
    },
  },
];

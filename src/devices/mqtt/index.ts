/**
 * The MQTT device family. The gateway creates it from `devices.mqtt`:
 *
 *   const adapters = mqttFamily.create(config.devices.mqtt)   // [] when disabled
 *   await adapter.start({ sink: ingest, events, log })
 *   ingest onAlarm: (r) => mqttAdapter.publishAlarm(r)
 */
import type { DeviceFamily } from '../types.js';
import { MqttAdapter } from './adapter.js';
import type { MqttConfig } from './config.js';

export const mqttFamily: DeviceFamily<MqttConfig> = {
  name: 'mqtt',
  create: (config) => (config.enabled ? [new MqttAdapter(config)] : []),
};

export { MqttAdapter } from './adapter.js';
export { hashPassword, verifyPassword } from './auth.js';
export { type MqttConfig, type MqttConfigInput, mqttConfigSchema } from './config.js';

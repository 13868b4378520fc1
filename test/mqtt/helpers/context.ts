import { type MqttConfig, type MqttConfigInput, mqttConfigSchema } from '../../../src/devices/mqtt/config.js';
import type { AdapterContext, ReadingSink } from '../../../src/devices/types.js';
import { silentLogger } from '../../../src/logger.js';
import { Events } from '../../../src/metrics/events.js';

export function testContext(sink: ReadingSink): AdapterContext & { events: Events } {
  return { sink, events: new Events(silentLogger()), log: silentLogger() };
}

export function mqttConfig(input: MqttConfigInput): MqttConfig {
  return mqttConfigSchema.parse(input);
}

/** Polls `cond` until true or `timeoutMs` passes; throws with `what` on timeout. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

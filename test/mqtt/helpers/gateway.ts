/** Starts the MQTT adapter in-process against a sink, and cleans up after each test. */

import { type SensorOptions, SimulatedSensor } from '../../../hardware-mocks/mqtt-sensors.js';
import { MqttAdapter } from '../../../src/devices/mqtt/adapter.js';
import type { MqttConfigInput } from '../../../src/devices/mqtt/config.js';
import type { ReadingSink } from '../../../src/devices/types.js';
import { mqttConfig, testContext } from './context.js';

export class Cleanup {
  private readonly fns: (() => Promise<unknown> | unknown)[] = [];
  add(fn: () => Promise<unknown> | unknown): void {
    this.fns.push(fn);
  }
  async run(): Promise<void> {
    for (const f of this.fns.splice(0).reverse()) await f();
  }
}

export async function startAdapter(cleanup: Cleanup, sink: ReadingSink, input: MqttConfigInput) {
  const adapter = new MqttAdapter(mqttConfig(input));
  const ctx = testContext(sink);
  await adapter.start(ctx);
  cleanup.add(() => adapter.stop());
  const a = adapter.addresses();
  return {
    adapter,
    ctx,
    url: a.tcp ? `mqtt://127.0.0.1:${a.tcp.port}` : '',
    tlsPort: a.tls?.port ?? 0,
    wsUrl: a.ws ? `ws://127.0.0.1:${a.ws.port}/mqtt` : '',
  };
}

export async function connectSensor(cleanup: Cleanup, o: SensorOptions): Promise<SimulatedSensor> {
  const s = new SimulatedSensor(o);
  cleanup.add(() => s.end(true));
  await s.connect();
  return s;
}

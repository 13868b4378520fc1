/** The embedded broker's limits, tested from its clients: a broker open to anonymous clients under given limits, and SUBACK codes. */
import type { MqttClient, Packet } from 'mqtt';
import { type Cleanup, startAdapter } from './gateway.js';
import { SENSOR_RULES } from './rules.js';
import { RecordingSink } from './sink.js';

/** SUBACK's return code for a refused filter. */
export const REFUSED = 128;

/** Subscribes to `filters` at QoS 1 in one SUBSCRIBE; resolves with the SUBACK's return code of each, read from the packet itself. */
export function subackCodes(c: MqttClient, filters: string[]): Promise<number[]> {
  return new Promise((resolve) => {
    const seen = (p: Packet): void => {
      if (p.cmd !== 'suback') return;
      c.off('packetreceive', seen);
      resolve(p.granted as number[]);
    };
    c.on('packetreceive', seen);
    c.subscribe(filters, { qos: 1 }, () => undefined);
  });
}

/** An embedded broker on a free port where anonymous clients may publish and subscribe under ward/#; its URL. */
export async function anonymousBroker(cleanup: Cleanup, limits: object): Promise<string> {
  const { url } = await startAdapter(cleanup, new RecordingSink(), {
    enabled: true,
    embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { anonymous: { publish: ['ward/#'], subscribe: ['ward/#'] } }, limits },
    rules: SENSOR_RULES,
  });
  return url;
}

/**
 * Simulated MQTT ward sensors: real MQTT connections (mqtt.js) to a real broker, publishing
 * pulse-oximeter readings as JSON, SenML, plain text or a fixed binary layout. They share no
 * parsing code with src/: the encodings are written here, from the formats' definitions.
 *
 * Library use:   const s = new SimulatedSensor({ url, clientId, bed: '12', device: 'ox1', format: 'json' });
 *                await s.connect(); await s.publishReading(); await s.end();
 * Load (bench):  node --import tsx hardware-mocks/mqtt-sensors.ts --url mqtt://127.0.0.1:1883 \
 *                  --sensors 200 --duration 10000 --window 32 --format json
 *                prints {"phase":"measure"} and {"phase":"end"} around the measured window, then
 *                one JSON line {"acked":..,"sent":..,"elapsedMs":..,"errors":..}
 */

import { pathToFileURL } from 'node:url';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { rng as prng } from './rng.js';

export type SensorFormat = 'json' | 'senml' | 'text' | 'binary';

export interface SensorOptions {
  url: string;
  clientId: string;
  bed: string;
  device: string;
  format: SensorFormat;
  username?: string;
  password?: string;
  qos?: 0 | 1 | 2;
  /** Topic prefix (default 'ward'): topics are <prefix>/<bed>/<device>/<kind>. */
  prefix?: string;
  clean?: boolean;
  reconnectPeriod?: number;
  keepalive?: number;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; servername?: string };
  seed?: number;
}

export interface OximeterSample {
  spo2: number;
  pulse: number;
  /** ms since the epoch */
  time: number;
}

/** Topic kind per format: what a gateway rule would match on. */
export const TOPIC_KIND: Record<SensorFormat, string> = { json: 'vitals', senml: 'senml', text: 'spo2', binary: 'bin' };

/** The payload one sample becomes in each format. */
export function encodeSample(format: SensorFormat, s: OximeterSample): Buffer {
  switch (format) {
    case 'json':
      return Buffer.from(JSON.stringify({ spo2: s.spo2, pr: s.pulse, ts: s.time }));
    case 'senml':
      // RFC 8428: base time in seconds, names resolved against the base name.
      return Buffer.from(
        JSON.stringify([
          { bn: 'urn:dev:ox:', bt: s.time / 1000, n: 'spo2', u: '%', v: s.spo2 },
          { n: 'pr', u: 'beat/min', v: s.pulse },
        ]),
      );
    case 'text':
      return Buffer.from(s.spo2.toFixed(0));
    case 'binary': {
      // uint8 spo2 | uint16be pulse*10 | uint32be seconds
      const b = Buffer.alloc(7);
      b.writeUInt8(s.spo2, 0);
      b.writeUInt16BE(Math.round(s.pulse * 10), 1);
      b.writeUInt32BE(Math.floor(s.time / 1000), 3);
      return b;
    }
  }
}

export class SimulatedSensor {
  readonly topic: string;
  private client: MqttClient | null = null;
  private readonly rnd: () => number;
  private spo2 = 97;
  private pulse = 72;

  constructor(readonly opts: SensorOptions) {
    this.topic = `${opts.prefix ?? 'ward'}/${opts.bed}/${opts.device}/${TOPIC_KIND[opts.format]}`;
    this.rnd = prng(opts.seed ?? 1);
  }

  get mqtt(): MqttClient {
    if (!this.client) throw new Error('sensor not connected');
    return this.client;
  }

  connect(): Promise<void> {
    const o = this.opts;
    const options: IClientOptions = {
      clientId: o.clientId,
      protocolVersion: 4,
      clean: o.clean ?? true,
      reconnectPeriod: o.reconnectPeriod ?? 500,
      keepalive: o.keepalive ?? 30,
      connectTimeout: 5000,
    };
    if (o.username !== undefined) options.username = o.username;
    if (o.password !== undefined) options.password = o.password;
    if (o.tls) Object.assign(options, o.tls);
    const client = connect(o.url, options);
    this.client = client;
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => {
        client.off('connect', onConnect);
        reject(e);
      };
      const onConnect = (): void => {
        client.off('error', onError);
        resolve();
      };
      client.once('connect', onConnect);
      client.once('error', onError);
    });
  }

  /** The next sample: a slow random walk in a plausible range. */
  nextSample(now = Date.now()): OximeterSample {
    this.spo2 = Math.min(100, Math.max(88, this.spo2 + Math.round((this.rnd() - 0.5) * 2)));
    this.pulse = Math.min(130, Math.max(50, this.pulse + Math.round((this.rnd() - 0.5) * 4)));
    return { spo2: this.spo2, pulse: this.pulse, time: now };
  }

  /** Publishes one sample; resolves when the broker acknowledged it (QoS 1) or it was written (QoS 0). */
  async publishReading(sample: OximeterSample = this.nextSample()): Promise<void> {
    await this.mqtt.publishAsync(this.topic, encodeSample(this.opts.format, sample), { qos: this.opts.qos ?? 1 });
  }

  /** Publishes raw bytes on `topic` (default: this sensor's topic). */
  async publishRaw(payload: Buffer | string, topic = this.topic, qos: 0 | 1 | 2 = this.opts.qos ?? 1): Promise<void> {
    await this.mqtt.publishAsync(topic, payload, { qos });
  }

  /**
   * Publishes continuously with at most `window` messages awaiting their PUBACK, until
   * `until()` is true. Returns how many were acknowledged.
   */
  async stream(window: number, until: () => boolean): Promise<{ sent: number; acked: number; errors: number }> {
    let sent = 0;
    let acked = 0;
    let errors = 0;
    await new Promise<void>((resolve) => {
      let inFlight = 0;
      const pump = (): void => {
        while (inFlight < window && !until()) {
          inFlight++;
          sent++;
          this.mqtt.publish(this.topic, encodeSample(this.opts.format, this.nextSample()), { qos: this.opts.qos ?? 1 }, (err) => {
            inFlight--;
            if (err) errors++;
            else acked++;
            if (until() && inFlight === 0) resolve();
            else pump();
          });
        }
        if (until() && inFlight === 0) resolve();
      };
      pump();
    });
    return { sent, acked, errors };
  }

  end(force = false): Promise<void> {
    const c = this.client;
    this.client = null;
    if (!c) return Promise.resolve();
    return new Promise((resolve) => c.end(force, {}, () => resolve()));
  }
}

// ---- load generator (used by bench/mqtt.ts as a child process) ----

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`missing --${name}`);
  return v;
}

async function main(): Promise<void> {
  const url = arg('url');
  const n = Number(arg('sensors', '200'));
  const durationMs = Number(arg('duration', '10000'));
  const window = Number(arg('window', '32'));
  const warmupMs = Number(arg('warmup', '1000'));
  const format = arg('format', 'json') as SensorFormat;
  const username = process.argv.includes('--username') ? arg('username') : undefined;
  const password = process.argv.includes('--password') ? arg('password') : undefined;
  const sensors = Array.from({ length: n }, (_, i) => {
    const o: SensorOptions = { url, clientId: `bench-${i}`, bed: String(100 + i), device: `ox${i}`, format, seed: i + 1, reconnectPeriod: 0 };
    if (username !== undefined) o.username = username.replace('{i}', String(i));
    if (password !== undefined) o.password = password;
    return new SimulatedSensor(o);
  });
  for (let i = 0; i < n; i += 50) await Promise.all(sensors.slice(i, i + 50).map((s) => s.connect()));
  // Warm up, then measure acknowledged messages over the duration.
  let phase: 'warmup' | 'measure' | 'done' = 'warmup';
  let measuredAcked = 0;
  const counts = sensors.map(() => 0);
  const start = Date.now();
  let measureStart = start;
  const runs = sensors.map((s, i) =>
    s
      .stream(window, () => phase === 'done')
      .then((r) => {
        counts[i] = r.acked;
        return r;
      }),
  );
  // Count acknowledgements per phase via the clients' packet events.
  for (const s of sensors)
    s.mqtt.on('packetreceive', (p) => {
      if (p.cmd === 'puback' && phase === 'measure') measuredAcked++;
    });
  await new Promise((r) => setTimeout(r, warmupMs));
  phase = 'measure';
  measureStart = Date.now();
  process.stdout.write(`${JSON.stringify({ phase: 'measure' })}\n`);
  await new Promise((r) => setTimeout(r, durationMs));
  const elapsedMs = Date.now() - measureStart;
  const acked = measuredAcked;
  process.stdout.write(`${JSON.stringify({ phase: 'end' })}\n`);
  phase = 'done';
  const results = await Promise.all(runs);
  await Promise.all(sensors.map((s) => s.end(true)));
  const errors = results.reduce((a, r) => a + r.errors, 0);
  const sent = results.reduce((a, r) => a + r.sent, 0);
  process.stdout.write(`${JSON.stringify({ acked, elapsedMs, sent, errors, totalAcked: counts.reduce((a, b) => a + b, 0) })}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}

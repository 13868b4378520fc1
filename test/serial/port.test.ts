/**
 * Port handling: config and per-protocol line settings, reopen backoff on an injected clock,
 * the silence fault over a real pty, and the family in the registry.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DevicePort } from '../../hardware-mocks/serial/device-port.js';
import { validateConfig } from '../../src/config/load.js';
import { createAdapters } from '../../src/devices/registry.js';
import { SerialAdapter } from '../../src/devices/serial/adapter.js';
import { backoffDelay, type Clock } from '../../src/devices/serial/backoff.js';
import { serialConfigSchema } from '../../src/devices/serial/config.js';
import { portSettings } from '../../src/devices/serial/port-worker.js';
import { PROTOCOLS } from '../../src/devices/serial/protocols/index.js';
import { type Pipeline, pipeline, waitFor } from '../devices/pipeline.js';
import { ManualClock } from './helpers/clock.js';
import { type Rig, serialRig } from './helpers/rig.js';

const port = (o: Record<string, unknown>) => serialConfigSchema.parse({ ports: [{ path: '/dev/ttyUSB0', bed: 'B1', ...o }] }).ports[0]!;

describe('serial config', () => {
  it.each([
    ['intellivue', { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false }],
    ['ge-s5', { baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1, rtscts: true }],
    ['masimo', { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false }],
    ['nonin', { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false }],
    ['medibus', { baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1, rtscts: false }],
  ] as const)('%s defaults to the reference line settings', (protocol, settings) => {
    expect(portSettings(port({ protocol }), PROTOCOLS[protocol])).toEqual(settings);
  });

  it('settings in the config win over the protocol defaults', () => {
    expect(portSettings(port({ protocol: 'ge-s5', baudRate: 115200, rtscts: false }), PROTOCOLS['ge-s5'])).toMatchObject({
      baudRate: 115200,
      parity: 'even',
      rtscts: false,
    });
  });

  it.each([
    [{ protocol: 'hl7' }, 'protocol'],
    [{ protocol: 'masimo', parity: 'mark' }, 'parity'],
    [{ protocol: 'masimo', line: { format: 'wg1' } }, 'line'],
    [{ protocol: 'line', line: { format: 'kv' } }, 'fields'],
    [{ protocol: 'masimo', bed: '' }, 'bed'],
    [{ protocol: 'masimo', silenceTimeout: 'soon' }, 'silenceTimeout'],
  ])('refuses %j naming %s', (o, field) => {
    const r = serialConfigSchema.safeParse({ ports: [{ path: '/dev/ttyUSB0', bed: 'B1', ...o }] });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues.map((i) => i.path))).toContain(field);
  });

  it('refuses the same path twice', () => {
    expect(
      serialConfigSchema.safeParse({
        ports: [
          { path: '/dev/a', bed: 'B1', protocol: 'masimo' },
          { path: '/dev/a', bed: 'B2', protocol: 'nonin' },
        ],
      }).success,
    ).toBe(false);
  });

  it('the registry creates one serial adapter for devices.serial with ports', () => {
    const adapters = createAdapters(
      validateConfig({ devices: { serial: { ports: [{ path: '/dev/ttyUSB0', protocol: 'intellivue', bed: 'B1', silenceTimeout: '20s' }] } } }).devices,
    );
    expect(adapters.map((a) => a.family)).toEqual(['serial']);
    expect(adapters[0]).toBeInstanceOf(SerialAdapter);
    expect(createAdapters(validateConfig({ devices: { serial: { ports: [] } } }).devices)).toEqual([]);
  });
});

describe('reopen backoff', () => {
  it('doubles from initial up to max', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((a) => backoffDelay(a, 1000, 30_000))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('a port that is not there is retried on the backoff schedule, counted each time (manual clock)', async () => {
    const delays: number[] = [];
    const timers: (() => void)[] = [];
    const clock: Clock = {
      now: () => 0,
      setTimeout: (fn, ms) => {
        delays.push(ms);
        timers.push(fn);
        return timers.length;
      },
      clearTimeout: () => undefined,
      setInterval: () => 0,
      clearInterval: () => undefined,
    };
    const p = await pipeline();
    const a = new SerialAdapter(
      serialConfigSchema.parse({ retry: { initial: 100, max: 800 }, ports: [{ path: '/nonexistent/wardgate-tty', protocol: 'masimo', bed: 'B1' }] }),
      clock,
    );
    try {
      await a.start(p.ctx);
      for (let i = 0; i < 6; i++) {
        await waitFor(() => timers.length > i, `retry ${i + 1} scheduled`);
        timers[i]!();
      }
      await waitFor(() => timers.length > 6, 'retry 7 scheduled');
      expect(delays.slice(0, 7)).toEqual([100, 200, 400, 800, 800, 800, 800]);
      expect(await p.events.count('device_error', { family: 'serial', reason: 'open_failed' })).toBe(7);
      expect(a.status()).toMatchObject({ state: 'degraded', devices: 0 });
      expect(a.status().detail).toContain('No such file or directory');
    } finally {
      await a.stop();
      await p.close();
    }
  });
});

describe('silence', () => {
  let rig: Rig | null = null;
  let p: Pipeline | null = null;
  let dev: DevicePort | null = null;
  afterEach(async () => {
    await dev?.stop();
    await rig?.close();
    await p?.close();
    rig = p = dev = null;
  });

  it('no valid frame for silenceTimeout is a fault in status, metrics and a status reading; a good line ends it', async () => {
    p = await pipeline();
    rig = await serialRig([{ protocol: 'masimo', bed: 'B9', deviceId: 'oxi-9', silenceTimeout: 300 }]);
    dev = new DevicePort({ path: rig.pairs[0]!.device, baudRate: 9600 });
    dev.start();
    await waitFor(() => dev!.isOpen, 'device end open');
    await rig.adapter.start(p.ctx);
    await waitFor(async () => (await p!.events.count('device_error', { family: 'serial', reason: 'silence' })) === 1, 'the silence fault');
    expect(rig.adapter.status().state).toBe('degraded');
    expect(rig.adapter.status().detail).toMatch(/silent for/);
    const metrics = await p.events.registry.getSingleMetricAsString('wardgate_serial_port_state');
    expect(metrics).toMatch(/wardgate_serial_port_state\{port="[^"]+"\} 2/);
    dev.write(Buffer.from('01/07/25 19:18:24 SPO2=097% BPM=072 ALARM=0000 EXC=000800\r\n'));
    await waitFor(() => rig!.adapter.status().state === 'running', 'running after a good line');
    await waitFor(() => p!.gate.accepted >= 4, 'readings');
    const events = p
      .drain()
      .filter((r) => r.metric === 'gateway_event')
      .map((r) => r.extra?.event);
    expect(events).toEqual(['silence', 'silence_end']);
  });
});

describe('the serial example in wardgate.example.yaml', () => {
  it('is valid once uncommented', async () => {
    const { readFileSync } = await import('node:fs');
    const { parseConfigText } = await import('../../src/config/load.js');
    const text = readFileSync(new URL('../../wardgate.example.yaml', import.meta.url), 'utf8').split('\n');
    const start = text.findIndex((l) => l.startsWith('  # serial:'));
    expect(start).toBeGreaterThan(0);
    const block: string[] = [];
    for (let i = start; i < text.length && text[i]!.startsWith('  #'); i++) block.push(`  ${text[i]!.slice(4)}`.replace(/\s+#\s.*$/, ''));
    const c = parseConfigText(`devices:\n${block.join('\n')}\n`, 'example-serial');
    expect(c.devices.serial?.ports.map((p) => p.protocol)).toEqual(['intellivue', 'masimo', 'line']);
    expect(c.devices.serial?.ports[0]?.pollInterval).toBe(1000);
  });
});

describe('a port paused for the buffer', () => {
  it('is not reported silent however long the buffer takes (manual clock: 5 silence timeouts pass while paused)', async () => {
    const p = await pipeline();
    const clock = new ManualClock();
    const rig = await serialRig([{ protocol: 'masimo', bed: 'B9', silenceTimeout: 200 }], { maxPendingReadings: 4 }, clock);
    const dev = new DevicePort({ path: rig.pairs[0]!.device, baudRate: 9600 });
    try {
      dev.start();
      await waitFor(() => dev.isOpen, 'device end open');
      await rig.adapter.start(p.ctx);
      p.gate.hold();
      const line = Buffer.from('01/07/25 19:18:24 SPO2=097% BPM=072 ALARM=0000 EXC=000800\r\n');
      for (let i = 0; i < 200; i++) dev.write(line);
      await waitFor(() => rig.adapter.status().detail?.includes('paused') ?? false, 'the port to pause');
      // Five silence timeouts pass while paused: the port's ticks run (each second of clock time), no silence.
      const ticks = clock.ticks;
      for (let i = 0; i < 5; i++) clock.step(1000);
      expect(clock.ticks - ticks).toBe(5);
      expect(await p.events.count('device_error', { family: 'serial', reason: 'silence' })).toBe(0);
      expect(rig.adapter.status().detail).not.toContain('silent');
      p.gate.release();
      await waitFor(() => p.gate.accepted >= 400, 'all 200 lines once the buffer accepts');
      // The same clock does make a port silent once it reads again and nothing comes.
      await waitFor(() => !(rig.adapter.status().detail?.includes('paused') ?? true), 'the port to resume');
      clock.step(1000);
      expect(await p.events.count('device_error', { family: 'serial', reason: 'silence' })).toBe(1);
    } finally {
      p.gate.release();
      await dev.stop();
      await rig.close();
      await p.close();
    }
  });
});

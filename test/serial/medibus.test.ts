/** Dräger MEDIBUS framing, payloads and session against the reference's vectors (§4.7). */
import { describe, expect, it } from 'vitest';
import { rng } from '../../hardware-mocks/rng.js';
import { serialConfigSchema } from '../../src/devices/serial/config.js';
import { PROTOCOLS } from '../../src/devices/serial/protocols/index.js';
import { alarms, measuredData } from '../../src/devices/serial/protocols/medibus/decode.js';
import { encode, FrameDecoder } from '../../src/devices/serial/protocols/medibus/frame.js';
import { RealtimeDecoder, realtimeConfig, realtimeValue } from '../../src/devices/serial/protocols/medibus/realtime.js';
import { hex } from './vectors.js';

/** The reference's byte vectors: [name, bytes, kind, code, data]. */
const VECTORS: [string, string, 'command' | 'response', number, string][] = [
  ['V-MB-1 ICC', '1B 51 36 43 0D', 'command', 0x51, ''],
  ['V-MB-2 ICC echo', '01 51 35 32 0D', 'response', 0x51, ''],
  ['V-MB-3 device id request', '1B 52 36 44 0D', 'command', 0x52, ''],
  ['V-MB-4 device id reply', '01 52 30 31 36 31 27 4D 79 20 50 43 27 30 31 2E 30 30 3A 30 33 2E 30 30 46 43 0D', 'response', 0x52, "0161'My PC'01.00:03.00"],
  ['V-MB-5 NOP (checksum 4B, the spec prints 46)', '1B 30 34 42 0D', 'command', 0x30, ''],
  ['V-MB-6 NOP echo', '01 30 33 31 0D', 'response', 0x30, ''],
  ['V-MB-7 request data CP1', '1B 24 33 46 0D', 'command', 0x24, ''],
  ['V-MB-8 empty data response', '01 24 32 35 0D', 'response', 0x24, ''],
  ['V-MB-9 SpO2 98, pulse 70', '01 24 45 42 20 39 38 20 45 31 20 37 30 20 37 41 0D', 'response', 0x24, 'EB 98 E1 70 '],
  ['V-MB-10 configure data response', '1B 4A 24 45 42 31 30 0D', 'command', 0x4a, '$EB'],
  ['V-MB-10 echo', '01 4A 34 42 0D', 'response', 0x4a, ''],
  ['V-MB-11 NAK', '01 15 31 36 0D', 'response', 0x15, ''],
  ['V-MB-12 request date/time', '1B 28 34 33 0D', 'command', 0x28, ''],
  ['V-MB-13 date/time reply', '01 28 31 31 3A 31 31 3A 31 39 31 31 2D 4E 4F 56 2D 39 33 45 36 0D', 'response', 0x28, '11:11:1911-NOV-93'],
  ['V-MB-14 time changed', '1B 49 36 34 0D', 'command', 0x49, ''],
  ['V-MB-14 echo', '01 49 34 41 0D', 'response', 0x49, ''],
  ['V-MB-15 request alarms CP1', '1B 27 34 32 0D', 'command', 0x27, ''],
  ['V-MB-16 alarm PAW HIGH', '01 27 4B 31 30 50 41 57 20 48 49 47 48 20 20 20 20 37 43 0D', 'response', 0x27, 'K10PAW HIGH    '],
  ['V-MB-17 STOP', '1B 55 37 30 0D', 'command', 0x55, ''],
  ['V-MB-18 request RT config', '1B 53 36 45 0D', 'command', 0x53, ''],
  ['V-MB-19 configure RT', '1B 54 30 30 30 32 30 36 30 33 46 41 0D', 'command', 0x54, '00020603'],
  ['V-MB-19 echo', '01 54 35 35 0D', 'response', 0x54, ''],
];

describe('MEDIBUS framing', () => {
  it.each(VECTORS)('%s: encodes byte-exact and decodes whatever the split', (_n, h, kind, code, data) => {
    const wire = hex(h);
    expect(encode(kind, code, data).toString('hex')).toBe(wire.toString('hex'));
    for (let cut = 0; cut <= wire.length; cut++) {
      const d = new FrameDecoder();
      const a = d.push(wire.subarray(0, cut));
      const b = d.push(wire.subarray(cut));
      expect([...a.frames, ...b.frames]).toEqual([{ kind, code, data }]);
      expect([...a.rejects, ...b.rejects]).toEqual([]);
    }
  });

  it('the spec printed checksum 46 for NOP: that frame is rejected', () => {
    expect(new FrameDecoder().push(hex('1B 30 34 36 0D')).rejects).toEqual(['medibus_bad_checksum']);
  });

  it('drops realtime bytes (V-MB-20/21) interleaved anywhere, and a command inside a response keeps both', () => {
    const data = hex('01 24 45 42 20 39 38 20 45 31 20 37 30 20 37 41 0D');
    const rt = hex('D3 91 81 8D 83 D0 C1 C3 C0 C0 D1 94 81');
    const mixed = Buffer.concat([data.subarray(0, 5), rt, hex('1B 30 34 42 0D'), data.subarray(5, 9), rt, data.subarray(9)]);
    const r = new FrameDecoder().push(mixed);
    expect(r.rejects).toEqual([]);
    expect(r.frames).toEqual([
      { kind: 'command', code: 0x30, data: '' },
      { kind: 'response', code: 0x24, data: 'EB 98 E1 70 ' },
    ]);
  });

  it('rejects a bad checksum, stray bytes, an unterminated frame and an endless one, each once', () => {
    const good = hex('01 51 35 32 0D');
    const r = new FrameDecoder().push(Buffer.concat([hex('01 51 35 33 0D'), hex('41 42'), hex('1B 30'), hex('1B 30 34 42 0D'), good]));
    expect(r.rejects).toEqual(['medibus_bad_checksum', 'medibus_stray_bytes', 'medibus_unterminated']);
    expect(r.frames).toHaveLength(2);
    const d = new FrameDecoder();
    expect(d.push(Buffer.concat([hex('01'), Buffer.alloc(10_000, 0x41), hex('0D')])).rejects).toEqual(['medibus_too_long']);
    expect(d.push(good).frames).toHaveLength(1);
  });
});

describe('MEDIBUS payloads', () => {
  it('measured data: 2-hex code + 4-character values; blanks are absent values', () => {
    expect(measuredData('EB 98 E1 70 ')).toEqual([
      { code: 0xeb, value: 98 },
      { code: 0xe1, value: 70 },
    ]);
    expect(measuredData('D6  12E638.5E3    ')).toEqual([
      { code: 0xd6, value: 12 },
      { code: 0xe6, value: 38.5 },
    ]);
    expect(measuredData('EB 98')).toBe('medibus_bad_data');
    expect(measuredData('EB 9x8')).toBe('medibus_bad_value');
  });

  it('alarms: priority, code, phrase (V-MB-16)', () => {
    expect(alarms('K10PAW HIGH    ')).toEqual([{ priority: 27, code: 0x10, phrase: 'PAW HIGH' }]);
    expect(alarms('K10PAW HIGH')).toBe('medibus_bad_alarms');
  });
});

describe('MEDIBUS session', () => {
  it('sends ICC, answers the device (device id, NOP, unknown), polls data and alarms once linked', () => {
    const s = PROTOCOLS.medibus.createSession({ pollIntervalMs: 1000 });
    expect(s.open(0).writes).toEqual([hex('1B 51 36 43 0D')]);
    const linked = s.data(hex('01 51 35 32 0D'), 10);
    expect(linked.writes).toEqual([hex('1B 24 33 46 0D'), hex('1B 27 34 32 0D')]);
    const asked = s.data(Buffer.concat([hex('1B 52 36 44 0D'), hex('1B 30 34 42 0D'), hex('1B 28 34 33 0D')]), 20);
    expect(asked.writes).toEqual([encode('response', 0x52, "0161'wardgate'01.00:01.00"), hex('01 30 33 31 0D'), encode('response', 0x28)]);
    const v = s.data(hex('01 24 45 42 20 39 38 20 45 31 20 37 30 20 37 41 0D'), 30);
    expect(v.readings.map((r) => [r.metric, r.value, r.unit])).toEqual([
      ['spo2', 98, '%'],
      ['pulse_rate_oximeter', 70, '/min'],
    ]);
    const a = s.data(hex('01 27 4B 31 30 50 41 57 20 48 49 47 48 20 20 20 20 37 43 0D'), 40);
    expect(a.readings.map((r) => [r.priorityClass, r.extra?.alarm, r.extra?.severity, r.extra?.state])).toEqual([['alarm', 'PAW HIGH', 'high', 'on']]);
    expect(s.data(encode('response', 0x27), 50).readings.map((r) => r.extra?.state)).toEqual(['off']);
    expect(s.tick(500).writes).toEqual([]);
    expect(s.tick(1010).writes).toEqual([hex('1B 24 33 46 0D'), hex('1B 27 34 32 0D')]);
    expect(s.close!()).toEqual([hex('1B 55 37 30 0D')]);
  });

  it('answers the device ICC with an echo and links; re-sends ICC every 3 s until answered', () => {
    const s = PROTOCOLS.medibus.createSession({ pollIntervalMs: 1000 });
    s.open(0);
    expect(s.tick(2000).writes).toEqual([]);
    expect(s.tick(3000).writes).toEqual([hex('1B 51 36 43 0D')]);
    const r = s.data(hex('1B 51 36 43 0D'), 3100);
    expect(r.writes).toEqual([hex('01 51 35 32 0D'), hex('1B 24 33 46 0D'), hex('1B 27 34 32 0D')]);
  });
});

describe('MEDIBUS realtime bytes (reference §4.5, V-MB-20/21)', () => {
  it('V-MB-21: D3 91 81 8D 83 -> streams 1 and 2, raw 81 and 205 -> 0.125 mbar and 1.96 mmHg', () => {
    const d = new RealtimeDecoder();
    const out = d.push(hex('D3 91 81 8D 83'));
    expect(out).toEqual({
      samples: [
        { stream: 1, raw: 81 },
        { stream: 2, raw: 205 },
      ],
      commands: [],
      rejects: [],
    });
    expect(realtimeValue(81, { min: -10, max: 100, maxbin: 0x370 })).toBeCloseTo(0.125, 6);
    expect(realtimeValue(205, { min: -20, max: 100, maxbin: 0x460 })).toBeCloseTo(1.96, 2);
    expect(d.push(hex('D1 94 81')).samples).toEqual([{ stream: 1, raw: 84 }]);
  });

  it('V-MB-20: D0 C1 C3 C0 C0 -> enable streams 1+2 (C1 with argument C3), then the end of the sequence', () => {
    const out = new RealtimeDecoder().push(hex('D0 C1 C3 C0 C0'));
    expect(out.commands).toEqual([
      { command: 0xc1, arg: 0xc3 },
      { command: 0xc0, arg: 0xc0 },
    ]);
    expect(out.samples).toEqual([]);
    expect(out.rejects).toEqual([]);
  });

  it('split at every byte boundary gives the same samples; a value byte with no sync is rejected', () => {
    const wire = hex('D3 91 81 8D 83 D1 94 81');
    for (let cut = 1; cut < wire.length; cut++) {
      const d = new RealtimeDecoder();
      const a = d.push(wire.subarray(0, cut));
      const b = d.push(wire.subarray(cut));
      expect([...a.samples, ...b.samples].map((x) => x.raw)).toEqual([81, 205, 84]);
    }
    expect(new RealtimeDecoder().push(hex('91')).rejects).toEqual(['medibus_rt_unexpected']);
    expect(new RealtimeDecoder().push(hex('D3 91 81 D1')).rejects).toEqual(['medibus_rt_short_sync']);
  });
});

describe("MEDIBUS realtime session (reference §4.3-4.5; order of the exchange from the protocol definition's life cycle)", () => {
  /** The device's 0x53 answer: code 2 hex, interval 8 (µs), MIN 5, MAX 5, MAXBIN 3 hex (V-MB-21's two configs). */
  const CONFIG = encode('response', 0x53, `00${'    8000'}  -10  100370` + `06${'   16000'}  -20  100460`);
  const linkedWithRealtime = (realtime: { code: string; multiplier: number }[]) => {
    const s = PROTOCOLS.medibus.createSession({ pollIntervalMs: 1000, options: { realtime } });
    expect(s.open(0).writes).toEqual([hex('1B 51 36 43 0D')]);
    // Linked: poll, and ask for the realtime configuration (V-MB-18).
    expect(s.data(hex('01 51 35 32 0D'), 10).writes).toEqual([hex('1B 24 33 46 0D'), hex('1B 27 34 32 0D'), hex('1B 53 36 45 0D')]);
    return s;
  };

  it('V-MB-18 -> configuration -> V-MB-19 (00 every 2nd, 06 every 3rd) -> echo -> V-MB-20 enable -> V-MB-21 samples as waveform readings', () => {
    const s = linkedWithRealtime([
      { code: '00', multiplier: 2 },
      { code: '06', multiplier: 3 },
    ]);
    expect(s.data(CONFIG, 20).writes).toEqual([hex('1B 54 30 30 30 32 30 36 30 33 46 41 0D')]);
    expect(s.data(hex('01 54 35 35 0D'), 30).writes).toEqual([hex('D0 C1 C3 C0 C0')]);
    const out = s.data(hex('D3 91 81 8D 83'), 40);
    expect(out.rejects).toEqual([]);
    expect(out.readings).toEqual([
      { metric: 'airway_pressure_wave', value: -10 + (81 * 110) / 0x370, unit: 'mbar', priorityClass: 'waveform' },
      { metric: 'co2_wave', value: -20 + (205 * 120) / 0x460, unit: 'mm[Hg]', priorityClass: 'waveform' },
    ]);
    expect(out.readings[0]!.value).toBeCloseTo(0.125, 9);
    expect(out.readings[1]!.value).toBeCloseTo(1.96, 2);
    expect(s.data(hex('D1 94 81'), 50).readings.map((r) => [r.metric, r.value])).toEqual([['airway_pressure_wave', -10 + (84 * 110) / 0x370]]);
  });

  it('realtime bytes inside a slow response, split anywhere, and a sync command inside a record: the same samples and the data response', () => {
    const wire = Buffer.concat([
      hex('01 24 45 42 20'),
      hex('D3 C6 C0 91'),
      hex('39 38 20 45 31'),
      hex('81 8D'),
      hex('20 37 30 20'),
      hex('83'),
      hex('37 41 0D'),
    ]);
    for (let cut = 0; cut <= wire.length; cut++) {
      const s = linkedWithRealtime([
        { code: '00', multiplier: 1 },
        { code: '06', multiplier: 1 },
      ]);
      s.data(CONFIG, 20);
      s.data(hex('01 54 35 35 0D'), 30);
      const a = s.data(wire.subarray(0, cut), 40);
      const b = s.data(wire.subarray(cut), 41);
      const rs = [...a.readings, ...b.readings].map((r) => [r.metric, r.priorityClass ?? 'vital']);
      expect(rs).toEqual([
        ['airway_pressure_wave', 'waveform'],
        ['co2_wave', 'waveform'],
        ['spo2', 'vital'],
        ['pulse_rate_oximeter', 'vital'],
      ]);
      expect([...a.rejects, ...b.rejects]).toEqual([]);
    }
  });

  it("the protocol definition's example D5 B0 A3 8B BC: streams 1 and 3 (the 2nd missing), values 8F0 and F0B", () => {
    const s = linkedWithRealtime([
      { code: '00', multiplier: 1 },
      { code: '01', multiplier: 1 },
      { code: '06', multiplier: 1 },
    ]);
    const config = encode('response', 0x53, `00    8000  -10  100370` + `01    8000 -120  120FFF` + `06   16000  -20  100460`);
    expect(s.data(config, 20).writes).toEqual([encode('command', 0x54, '000101010601')]);
    expect(s.data(hex('01 54 35 35 0D'), 30).writes).toEqual([hex('D0 C1 C7 C0 C0')]);
    const out = s.data(hex('D5 B0 A3 8B BC'), 40);
    expect(out.readings.map((r) => [r.metric, r.value])).toEqual([
      ['airway_pressure_wave', -10 + (0x8f0 * 110) / 0x370],
      ['co2_wave', -20 + (0xf0b * 120) / 0x460],
    ]);
  });

  it('before realtime is configured, realtime bytes are dropped silently; curves the device does not offer are not asked for', () => {
    const s = linkedWithRealtime([
      { code: '01', multiplier: 1 },
      { code: '06', multiplier: 4 },
    ]);
    expect(s.data(hex('D3 91 81 8D 83'), 15)).toMatchObject({ readings: [], rejects: [] });
    const out = s.data(CONFIG, 20); // offers 00 and 06, not 01
    expect(out.rejects).toEqual(['medibus_rt_not_offered']);
    expect(out.writes).toEqual([encode('command', 0x54, '0604')]);
    expect(s.data(hex('01 54 35 35 0D'), 30).writes).toEqual([hex('D0 C1 C1 C0 C0')]);
    expect(s.data(hex('D1 94 81'), 40).readings.map((r) => r.metric)).toEqual(['co2_wave']);
    expect(s.data(hex('D2 94 81'), 50).rejects).toEqual(['medibus_rt_unknown_stream']);
  });

  it('re-enables every 5 s, starts over on "configuration changed" (0x56), disables the streams before STOP', () => {
    const s = linkedWithRealtime([{ code: '00', multiplier: 1 }]);
    s.data(CONFIG, 20);
    s.data(hex('01 54 35 35 0D'), 30);
    expect(s.tick(4000).writes).not.toContainEqual(hex('D0 C1 C1 C0 C0'));
    expect(s.tick(5030).writes).toContainEqual(hex('D0 C1 C1 C0 C0'));
    const changed = s.data(encode('command', 0x56), 6000);
    expect(changed.writes).toEqual([encode('response', 0x56), hex('1B 53 36 45 0D')]);
    expect(s.data(hex('D1 94 81'), 6100).readings).toEqual([]);
    s.data(CONFIG, 6200);
    s.data(hex('01 54 35 35 0D'), 6300);
    expect(s.close!()).toEqual([hex('D0 C1 C0 C0 C0'), hex('1B 55 37 30 0D')]);
  });

  it.each([
    ['a curve of 22 characters', '00    8000  -10  10037'],
    ['MAX not above MIN', '00    8000  100  -10370'],
    ['MAXBIN 0', '00    8000  -10  100000'],
    ['a letter in the interval', '00    80x0  -10  100370'],
  ])('a configuration with %s is rejected and realtime stays off', (_w, text) => {
    expect(realtimeConfig(text)).toBe('medibus_rt_bad_config');
    const s = linkedWithRealtime([{ code: '00', multiplier: 1 }]);
    const out = s.data(encode('response', 0x53, text), 20);
    expect([out.rejects, out.writes]).toEqual([['medibus_rt_bad_config'], []]);
    expect(s.data(hex('D1 94 81'), 30).readings).toEqual([]);
  });

  it('without realtime curves the session never asks for the configuration', () => {
    const s = PROTOCOLS.medibus.createSession({ pollIntervalMs: 1000 });
    s.open(0);
    expect(s.data(hex('01 51 35 32 0D'), 10).writes).toEqual([hex('1B 24 33 46 0D'), hex('1B 27 34 32 0D')]);
    expect(s.data(hex('D3 91 81 8D 83'), 20).readings).toEqual([]);
  });
});

describe('MEDIBUS realtime port options', () => {
  const port = (o: Record<string, unknown>) => ({ path: '/dev/ttyUSB0', bed: 'B1', protocol: 'medibus', ...o });
  it('codes the gateway maps, at most four, multiplier 1 by default; only on medibus ports', () => {
    const ok = serialConfigSchema.parse({ ports: [port({ medibus: { realtime: [{ code: '00' }, { code: '06', multiplier: 3 }] } })] });
    expect(ok.ports[0]!.medibus).toEqual({
      realtime: [
        { code: '00', multiplier: 1 },
        { code: '06', multiplier: 3 },
      ],
    });
    expect(serialConfigSchema.safeParse({ ports: [port({ medibus: { realtime: [{ code: '24' }] } })] }).success).toBe(false);
    expect(serialConfigSchema.safeParse({ ports: [port({ medibus: { realtime: ['00', '01', '02', '06', '07'].map((code) => ({ code })) } })] }).success).toBe(
      false,
    );
    expect(serialConfigSchema.safeParse({ ports: [port({ protocol: 'ge-s5', medibus: { realtime: [] } })] }).success).toBe(false);
  });
});

describe('MEDIBUS realtime session under random input', () => {
  it('100,000 random chunks into a streaming session: nothing thrown, every waveform value finite and within its curve', () => {
    const s = PROTOCOLS.medibus.createSession({ pollIntervalMs: 1000, options: { realtime: [{ code: '00' }, { code: '06' }] } });
    s.open(0);
    s.data(hex('01 51 35 32 0D'), 1);
    s.data(encode('response', 0x53, `00    8000  -10  100370` + `06   16000  -20  100460`), 2);
    expect(s.data(hex('01 54 35 35 0D'), 3).writes).toEqual([hex('D0 C1 C3 C0 C0')]);
    const rand = rng(7);
    let samples = 0;
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      // Mostly realtime-looking bytes (>= 0x80), some slow ones.
      const chunk = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 12) }, () => (rand() < 0.8 ? 0x80 : 0) | Math.floor(rand() * 128)));
      const out = s.data(chunk, 10 + i);
      for (const r of out.readings.filter((x) => x.priorityClass === 'waveform')) {
        samples++;
        const [lo, hi] = r.metric === 'airway_pressure_wave' ? [-10, -10 + (4095 * 110) / 0x370] : [-20, -20 + (4095 * 120) / 0x460];
        if (!(r.value >= lo && r.value <= hi)) outside++;
      }
    }
    expect([outside, samples > 1000]).toEqual([0, true]);
  });
});

/**
 * Simulated BLE wearables: a heart-rate strap (with RR intervals), a pulse oximeter (PLX
 * continuous), a thermometer patch and a blood-pressure cuff. Values drift like a
 * patient's; every value a peripheral puts on the air is described in its ground truth
 * (what it meant, in catalogue terms), written by the controller when it is sent.
 */
import { rng } from '../rng.js';
import type { ServiceDef } from './gatt-server.js';
import { GLUCOSE_MEASUREMENT, GLUCOSE_SERVICE, GlucoseMemory, type GlucoseRecord, RACP } from './glucose-meter.js';
import { Bytes, float32, sfloat } from './sig-encode.js';

/** A glucose meter is not in the rotation of `makeWearables` (tests make one with `new SimPeripheral`). */
export type WearableKind = 'hr_strap' | 'oximeter' | 'thermometer' | 'bp_cuff' | 'glucose_meter';
export const WEARABLE_KINDS: readonly WearableKind[] = ['hr_strap', 'oximeter', 'thermometer', 'bp_cuff'];

export interface TruthValue {
  metric: string;
  value: number;
  unit: string;
}

export interface Emission {
  charUuid: number;
  bytes: Buffer;
  /** What the bytes mean; empty with `malformed` when the peripheral sent garbage on purpose. */
  values: TruthValue[];
  malformed?: boolean;
}

export interface PeripheralOptions {
  kind: WearableKind;
  address: string;
  name: string;
  seed: number;
  /** Notification period (ms of the controller's clock). */
  intervalMs?: number;
  /** Every n-th emission is malformed (0: never). */
  malformedEvery?: number;
  txRssi?: number;
  /** Glucose meter: offers the Record Access Control Point (default true). */
  racp?: boolean;
}

const SERVICE: Record<WearableKind, number> = { hr_strap: 0x180d, oximeter: 0x1822, thermometer: 0x1809, bp_cuff: 0x1810, glucose_meter: GLUCOSE_SERVICE };
const MEASUREMENT: Record<WearableKind, { uuid: number; props: number }> = {
  hr_strap: { uuid: 0x2a37, props: 0x10 },
  oximeter: { uuid: 0x2a5f, props: 0x10 },
  thermometer: { uuid: 0x2a1c, props: 0x20 },
  bp_cuff: { uuid: 0x2a35, props: 0x20 },
  glucose_meter: { uuid: GLUCOSE_MEASUREMENT, props: 0x10 },
};

/** A bounded random walk. */
class Drift {
  constructor(
    private v: number,
    private readonly lo: number,
    private readonly hi: number,
    private readonly step: number,
    private readonly rnd: () => number,
  ) {}
  next(): number {
    this.v = Math.min(this.hi, Math.max(this.lo, this.v + (this.rnd() - 0.5) * 2 * this.step));
    return this.v;
  }
}

export class SimPeripheral {
  readonly kind: WearableKind;
  readonly address: string;
  readonly name: string;
  readonly intervalMs: number;
  inRange = true;
  battery = 100;
  private readonly rnd: () => number;
  private readonly rssi: Drift;
  private n = 0;
  /** Every n-th emission is malformed (0: never); tests may change it while running. */
  malformedEvery: number;
  private readonly hr: Drift;
  private readonly spo2: Drift;
  private readonly temp: Drift;
  private readonly sys: Drift;
  private readonly glucose: Drift;
  /** Glucose meter: its stored records and RACP (null: no RACP characteristic). */
  readonly memory = new GlucoseMemory();
  readonly racp: boolean;
  /** ATT error code with which the peripheral refuses every CCCD write (0: accepts them); `cccdRefused` counts the refusals. */
  refuseCccd = 0;
  cccdRefused = 0;

  constructor(o: PeripheralOptions) {
    this.kind = o.kind;
    this.address = o.address.toLowerCase();
    this.name = o.name;
    this.rnd = rng(o.seed);
    this.intervalMs = o.intervalMs ?? 100;
    this.malformedEvery = o.malformedEvery ?? 0;
    this.rssi = new Drift(o.txRssi ?? -60, -95, -35, 3, this.rnd);
    this.hr = new Drift(60 + this.rnd() * 40, 40, 180, 2, this.rnd);
    this.spo2 = new Drift(94 + this.rnd() * 5, 85, 100, 0.6, this.rnd);
    this.temp = new Drift(36.2 + this.rnd() * 1.5, 35, 40, 0.05, this.rnd);
    this.sys = new Drift(110 + this.rnd() * 30, 80, 190, 3, this.rnd);
    this.battery = 60 + Math.floor(this.rnd() * 40);
    this.glucose = new Drift(90 + this.rnd() * 60, 40, 400, 8, this.rnd);
    this.racp = o.kind === 'glucose_meter' && o.racp !== false;
  }

  /** Glucose meter: takes a measurement now (connected or not) and stores it; returns the record. */
  takeGlucose(): GlucoseRecord {
    return this.memory.take(Math.round(this.glucose.next()), new Date());
  }

  /** A stored glucose record as its notification. */
  glucoseEmission(r: GlucoseRecord): Emission {
    return { charUuid: GLUCOSE_MEASUREMENT, bytes: r.bytes, values: [{ metric: 'glucose', value: r.mgdl, unit: 'mg/dL' }] };
  }

  serviceUuid(): number {
    return SERVICE[this.kind];
  }

  measurementUuid(): number {
    return MEASUREMENT[this.kind].uuid;
  }

  services(): ServiceDef[] {
    const m = MEASUREMENT[this.kind];
    // RACP: write (0x08) and indicate (0x20).
    const racp = this.racp ? [{ uuid: RACP, props: 0x28 }] : [];
    return [
      { uuid: SERVICE[this.kind], chars: [{ uuid: m.uuid, props: m.props }, ...racp] },
      { uuid: 0x180f, chars: [{ uuid: 0x2a19, props: 0x12, read: () => Buffer.from([this.battery]) }] },
    ];
  }

  /** The advertised RSSI right now (dBm). */
  nextRssi(): number {
    return Math.round(this.rssi.next());
  }

  /** The next measurement notification/indication. */
  emit(): Emission {
    this.n++;
    const m = MEASUREMENT[this.kind].uuid;
    if (this.malformedEvery > 0 && this.n % this.malformedEvery === 0) return this.malformed(m);
    switch (this.kind) {
      case 'hr_strap':
        return this.heartRate();
      case 'oximeter':
        return this.oximeter();
      case 'thermometer':
        return this.thermometer();
      case 'bp_cuff':
        return this.bloodPressure();
      case 'glucose_meter':
        // A live measurement is stored too (RACP reports it later like any other).
        return this.glucoseEmission(this.takeGlucose());
    }
  }

  /** A battery notification (one octet, 0-100), drained slowly. */
  emitBattery(): Emission {
    if (this.battery > 5 && this.rnd() < 0.3) this.battery--;
    return { charUuid: 0x2a19, bytes: Buffer.from([this.battery]), values: [{ metric: 'battery_level', value: this.battery, unit: '%' }] };
  }

  private malformed(charUuid: number): Emission {
    // Heart rate with an odd RR field; others cut short of what their flags announce.
    const bytes = this.kind === 'hr_strap' ? Buffer.from([0x10, 72, 0x00, 0x04, 0xe8]) : Buffer.from([0x02, 0x01]);
    return { charUuid, bytes, values: [], malformed: true };
  }

  private heartRate(): Emission {
    const hr = Math.round(this.hr.next());
    const wide = this.n % 7 === 0;
    const rrCount = 1 + (this.n % 3);
    const rrs: number[] = [];
    for (let i = 0; i < rrCount; i++) rrs.push(Math.round((60 / hr) * 1024 + (this.rnd() - 0.5) * 40));
    const b = new Bytes().u8(0x16 | (wide ? 0x01 : 0));
    if (wide) b.u16(hr);
    else b.u8(hr);
    for (const rr of rrs) b.u16(rr);
    return {
      charUuid: 0x2a37,
      bytes: b.done(),
      values: [{ metric: 'heart_rate', value: hr, unit: '/min' }, ...rrs.map((rr) => ({ metric: 'rr_interval', value: rr / 1024, unit: 's' }))],
    };
  }

  private oximeter(): Emission {
    const spo2 = Math.round(this.spo2.next() * 10) / 10;
    const pr = Math.round(this.hr.next());
    const bytes = new Bytes().u8(0x00).u16(sfloat(spo2, 1)).u16(sfloat(pr, 0)).done();
    return {
      charUuid: 0x2a5f,
      bytes,
      values: [
        { metric: 'spo2', value: spo2, unit: '%' },
        { metric: 'pulse_rate_oximeter', value: pr, unit: '/min' },
      ],
    };
  }

  private thermometer(): Emission {
    const t = Math.round(this.temp.next() * 100) / 100;
    const bytes = new Bytes().u8(0x04).u32(float32(t, 2)).u8(0x02).done();
    return { charUuid: 0x2a1c, bytes, values: [{ metric: 'body_temp', value: t, unit: 'Cel' }] };
  }

  private bloodPressure(): Emission {
    const sys = Math.round(this.sys.next());
    const dia = Math.round(sys * 0.62);
    const map = Math.round((sys + 2 * dia) / 3);
    const pr = Math.round(this.hr.next());
    const bytes = new Bytes().u8(0x04).u16(sfloat(sys)).u16(sfloat(dia)).u16(sfloat(map)).u16(sfloat(pr)).done();
    return {
      charUuid: 0x2a35,
      bytes,
      values: [
        { metric: 'nibp_sys', value: sys, unit: 'mm[Hg]' },
        { metric: 'nibp_dia', value: dia, unit: 'mm[Hg]' },
        { metric: 'nibp_mean', value: map, unit: 'mm[Hg]' },
        { metric: 'pulse_rate_nibp', value: pr, unit: '/min' },
      ],
    };
  }
}

/** N wearables, the kinds in rotation, addresses C0:FF:EE:00:xx:yy. */
export function makeWearables(n: number, seed = 1, opts: Partial<PeripheralOptions> = {}): SimPeripheral[] {
  const out: SimPeripheral[] = [];
  for (let i = 0; i < n; i++) {
    const kind = WEARABLE_KINDS[i % WEARABLE_KINDS.length]!;
    const address = `c0:ff:ee:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    out.push(
      new SimPeripheral({ kind, address, name: `WG-${kind.toUpperCase().replace('_', '')}-${String(i + 1).padStart(3, '0')}`, seed: seed * 1000 + i, ...opts }),
    );
  }
  return out;
}

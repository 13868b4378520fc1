/**
 * The S/5 wire format from the monitor's side (reference §3.2), independent of src/:
 * flag 0x7E, stuffing of 7E/7D (checksum included), 8-bit sum; a receiver for requests.
 */
export function frame(record: Buffer): Buffer {
  let sum = 0;
  for (const b of record) sum = (sum + b) % 256;
  const out = [0x7e];
  for (const b of [...record, sum]) {
    if (b === 0x7e) out.push(0x7d, 0x5e);
    else if (b === 0x7d) out.push(0x7d, 0x5d);
    else out.push(b);
  }
  out.push(0x7e);
  return Buffer.from(out);
}

export class FrameReader {
  private cur: number[] = [];
  private esc = false;
  bad = 0;

  feed(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    for (const b of chunk) {
      if (b === 0x7e) {
        if (this.cur.length > 0) {
          const rec = this.cur.slice(0, -1);
          const sum = rec.reduce((a, x) => (a + x) % 256, 0);
          if (sum === this.cur[this.cur.length - 1] && rec.length >= 40 && (rec[0]! | (rec[1]! << 8)) === rec.length) out.push(Buffer.from(rec));
          else this.bad++;
        }
        this.cur = [];
        this.esc = false;
      } else if (b === 0x7d) this.esc = true;
      else {
        this.cur.push(this.esc ? b | 0x20 : b);
        this.esc = false;
        if (this.cur.length > 4096) this.cur = [];
      }
    }
    return out;
  }
}

/**
 * DRI records from the monitor's side (reference §3.3, §3.5), independent of src/: a 40-byte
 * little-endian header whose descriptor list points at each subrecord (0xFF ends it), then the
 * subrecords one after the other.
 */
export function driRecord(maintype: number, time: number, level: number, subrecords: readonly { type: number; data: Buffer }[]): Buffer {
  const h = Buffer.alloc(40);
  const len = 40 + subrecords.reduce((a, s) => a + s.data.length, 0);
  h.writeUInt16LE(len, 0);
  h[3] = level;
  h.writeUInt32LE(time >>> 0, 6);
  h.writeUInt16LE(maintype, 14);
  let offset = 0;
  subrecords.forEach((s, i) => {
    h.writeInt16LE(offset, 16 + 3 * i);
    h[18 + 3 * i] = s.type;
    offset += s.data.length;
  });
  if (subrecords.length < 8) h[18 + 3 * subrecords.length] = 0xff;
  return Buffer.concat([h, ...subrecords.map((s) => s.data)]);
}

/** A value as the monitor shows it: a number in the parameter's unit, or a raw marker (<= -32001, §3.5). */
export type Shown = number | { marker: number };
export const MARKER = { invalid: -32767, notUpdated: -32766, discontinuity: -32765, underRange: -32764, overRange: -32763, notCalibrated: -32762 } as const;

/** The basic class's groups (§3.5): header offset (-1 for ecg_extra, which has none) and each field's scale (raw = value x scale). */
const BASIC: Record<string, { at: number; fields: [string, number][] }> = {
  ecg: {
    at: 0,
    fields: [
      ['hr', 1],
      ['st1', 100],
      ['st2', 100],
      ['st3', 100],
      ['imp_rr', 1],
    ],
  },
  ...Object.fromEntries(
    [16, 30, 44, 58, 240, 254].map((at, i) => [
      `p${i + 1}`,
      {
        at,
        fields: [
          ['sys', 100],
          ['dia', 100],
          ['mean', 100],
          ['hr', 1],
        ],
      },
    ]),
  ),
  nibp: {
    at: 72,
    fields: [
      ['sys', 100],
      ['dia', 100],
      ['mean', 100],
      ['hr', 1],
    ],
  },
  ...Object.fromEntries([86, 94, 102, 110].map((at, i) => [`t${i + 1}`, { at, fields: [['temp', 100]] }])),
  spo2: {
    at: 118,
    fields: [
      ['spo2', 100],
      ['pr', 1],
      ['ir_amp', 100],
      ['svo2', 100],
    ],
  },
  co2: {
    at: 132,
    fields: [
      ['et', 100],
      ['fi', 100],
      ['rr', 1],
      ['amb_press', 10],
    ],
  },
  o2: {
    at: 146,
    fields: [
      ['et', 100],
      ['fi', 100],
    ],
  },
  n2o: {
    at: 156,
    fields: [
      ['et', 100],
      ['fi', 100],
    ],
  },
  aa: {
    at: 166,
    fields: [
      ['et', 100],
      ['fi', 100],
      ['mac_sum', 100],
    ],
  },
  flow_vol: {
    at: 178,
    fields: [
      ['rr', 1],
      ['ppeak', 100],
      ['peep', 100],
      ['pplat', 100],
      ['tv_insp', 10],
      ['tv_exp', 10],
      ['compliance', 100],
      ['mv_exp', 100],
    ],
  },
  co_wedge: {
    at: 200,
    fields: [
      ['co', 1],
      ['blood_temp', 100],
      ['ref', 100],
      ['pcwp', 100],
    ],
  },
  nmt: {
    at: 214,
    fields: [
      ['t1', 10],
      ['tratio', 10],
      ['ptc', 1],
    ],
  },
  ecg_extra: {
    at: 226 - 6,
    fields: [
      ['hr_ecg', 1],
      ['hr_max', 1],
      ['hr_min', 1],
    ],
  },
  svo2: { at: 232, fields: [['svo2', 100]] },
};

export interface GroupShown {
  /** status dword: bit 0 exists, bit 1 active (default 3). */
  status?: number;
  label?: number;
  values: Record<string, Shown>;
}

/**
 * The ext1 class's groups (GE-DRI 8005313 §3.6, struct ext1_phdb; the reference does not lay it out):
 * arrh_ecg (its arrh_status_bf and reserved words after pvc stay 0), ecg12, P7, P8, SpO2 channel 2, T5, T6.
 */
const EXT1: Record<string, { at: number; fields: [string, number][] }> = {
  arrh_ecg: {
    at: 0,
    fields: [
      ['hr', 1],
      ['rr_time', 1],
      ['pvc', 1],
    ],
  },
  ecg12: { at: 48, fields: ['I', 'II', 'III', 'AVL', 'AVR', 'AVF', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6'].map((l) => [`st${l}`, 100] as [string, number]) },
  p7: {
    at: 78,
    fields: [
      ['sys', 100],
      ['dia', 100],
      ['mean', 100],
      ['hr', 1],
    ],
  },
  p8: {
    at: 92,
    fields: [
      ['sys', 100],
      ['dia', 100],
      ['mean', 100],
      ['hr', 1],
    ],
  },
  spo2_ch2: {
    at: 106,
    fields: [
      ['spo2', 100],
      ['pr', 1],
      ['ir_amp', 100],
      ['svo2', 100],
    ],
  },
  t5: { at: 120, fields: [['temp', 100]] },
  t6: { at: 128, fields: [['temp', 100]] },
};

/** The 270-byte ext1 class data, as basicClass does it. */
export function ext1Class(groups: Readonly<Record<string, GroupShown>>): Buffer {
  return classData(EXT1, groups);
}

/** The 270-byte basic class data: groups not given have status 0 and every value invalid; fields not given are invalid. */
export function basicClass(groups: Readonly<Record<string, GroupShown>>): Buffer {
  return classData(BASIC, groups);
}

function classData(layout: Record<string, { at: number; fields: [string, number][] }>, groups: Readonly<Record<string, GroupShown>>): Buffer {
  const c = Buffer.alloc(270);
  for (const [name, g] of Object.entries(layout)) {
    const shown = groups[name];
    if (name !== 'ecg_extra') {
      c.writeUInt32LE(shown ? (shown.status ?? 3) >>> 0 : 0, g.at);
      c.writeUInt16LE(shown?.label ?? 0, g.at + 4);
    }
    g.fields.forEach(([field, scale], i) => {
      const v = shown?.values[field];
      const raw = v === undefined ? MARKER.invalid : typeof v === 'number' ? Math.round(v * scale) : v.marker;
      c.writeInt16LE(raw, g.at + 6 + 2 * i);
    });
  }
  return c;
}

/** One physiological subrecord (278 bytes): time, class data, marker, reserved, cl_drilvl_subt (class in bits 8-11). */
export function physSubrecord(time: number, cls: number, data: Buffer, lowBits = 0): Buffer {
  const sr = Buffer.alloc(278);
  sr.writeUInt32LE(time >>> 0, 0);
  data.copy(sr, 4, 0, 270);
  sr.writeUInt16LE(((cls & 0x0f) << 8) | (lowBits & 0xff), 276);
  return sr;
}

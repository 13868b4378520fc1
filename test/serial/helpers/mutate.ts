/**
 * Mutation fuzz of every serial framing layer, shared by test/serial/fuzz-mutate.test.ts (sized
 * for CI) and bench/fuzz-serial.ts (1M inputs per layer).
 *
 * Each input is one item written to the layer's decoder (whole, or split in two reads at a random
 * byte): a clean frame, or a frame damaged in one known way. The fuzzer decides, from the damage
 * it injected and the protocol's rules (reference §2.2, §3.2, §4.2, §5.1, §5.3, §7), what the
 * decoder must give for that item: how many frames, which rejection reasons in order, and the
 * payload of each frame. It compares that with what the decoder gave, item by item. So every
 * rejection is checked against what was injected, never against the decoder's own counters.
 *
 * Frames are built with the simulators' independent encoders (hardware-mocks/), not src/.
 */
import { message as medibusMessage } from '../../../hardware-mocks/medibus.js';
import { rng } from '../../../hardware-mocks/rng.js';
import { frame as geFrame } from '../../../hardware-mocks/serial/ge-wire.js';
import { fcs as x25 } from '../../../hardware-mocks/serial/intellivue-wire.js';
import { FrameDecoder as GeFrames } from '../../../src/devices/serial/protocols/ge-s5/frame.js';
import { PROTOCOLS } from '../../../src/devices/serial/protocols/index.js';
import { FrameDecoder as PhilipsFrames } from '../../../src/devices/serial/protocols/intellivue/frame.js';
import { FrameDecoder as MedibusFrames } from '../../../src/devices/serial/protocols/medibus/frame.js';
import { Format2Decoder, Format8Decoder } from '../../../src/devices/serial/protocols/nonin/decode.js';
import type { Session } from '../../../src/devices/serial/protocols/types.js';
import { hex, REF } from '../vectors.js';

export const LAYERS = ['intellivue', 'ge-s5', 'medibus', 'masimo', 'nonin-2', 'nonin-8', 'line'] as const;
export type LayerName = (typeof LAYERS)[number];

/** What the decoder gave for one item. */
interface Observed {
  frames: number;
  rejects: string[];
  /** Frame contents (user data, records) or decoded values (as strings), in order. */
  payloads: (string | Buffer)[];
}

/** What it must give: `payloads` undefined = not checked (only for frames with no payload check). */
interface Expected {
  frames: number;
  rejects: string[];
  payloads?: (string | Buffer)[];
}

interface Item {
  kind: string;
  wire: Buffer;
  expect: Expected;
}

interface Layer {
  decoder(): { push(b: Buffer): Observed };
  item(r: () => number): Item;
}

export interface FuzzReport {
  layer: LayerName;
  inputs: number;
  bytes: number;
  /** Inputs per kind of damage. */
  kinds: Record<string, number>;
  expectedFrames: number;
  observedFrames: number;
  expectedRejects: number;
  observedRejects: number;
  /** Observed rejections by reason (every one of them was expected, in this item, with this reason, unless `mismatches` > 0). */
  rejectsByReason: Record<string, number>;
  /** Items whose outcome differed from the expectation. */
  mismatches: number;
  firstMismatch?: string;
  exceptions: number;
  ms: number;
}

const int = (r: () => number, n: number): number => Math.floor(r() * n);
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const bytesOf = (r: () => number, n: number, ok: (b: number) => boolean): number[] => {
  const out: number[] = [];
  while (out.length < n) {
    const b = int(r, 256);
    if (ok(b)) out.push(b);
  }
  return out;
};
/** A new byte value, different from `old` and accepted by `ok`. */
const other = (r: () => number, old: number, ok: (b: number) => boolean = () => true): number => {
  for (;;) {
    const b = int(r, 256);
    if (b !== old && ok(b)) return b;
  }
};

// ---------- IntelliVue: C0 | esc(11 01 LEN data FCS) | C1, CRC-16/X-25 --------------------------

function philipsEscape(inner: number[]): Buffer {
  const out = [0xc0];
  for (const b of inner) {
    if (b === 0xc0 || b === 0xc1 || b === 0x7d) out.push(0x7d, b ^ 0x20);
    else out.push(b);
  }
  out.push(0xc1);
  return Buffer.from(out);
}

function philipsLayer(r0: () => number): Layer {
  // A pool of unescaped frames: the reference's messages and random user data (escapes galore).
  const datas: Buffer[] = ['V-PH-3', 'V-PH-4', 'V-PH-5', 'V-PH-5b', 'V-PH-7'].map((k) => {
    const w = hex(REF[k]!);
    return w.subarray(5, w.length - 3); // none of these holds an escape
  });
  datas.push(hex(REF['V-PH-6-data']!));
  while (datas.length < 64) datas.push(Buffer.from(bytesOf(r0, int(r0, 160), () => true)));
  const pool = datas.map((d) => {
    const inner = [0x11, 0x01, d.length >> 8, d.length & 0xff, ...d];
    const f = x25(inner);
    inner.push(f & 0xff, f >> 8);
    return { inner, data: d };
  });
  return {
    decoder: () => {
      const d = new PhilipsFrames();
      return {
        push: (b) => {
          const o = d.push(b);
          return { frames: o.frames.length, rejects: o.rejects, payloads: o.frames };
        },
      };
    },
    item: (r) => {
      const base = pick(r, pool);
      const clean = philipsEscape(base.inner);
      const ok: Expected = { frames: 1, rejects: [], payloads: [base.data] };
      const k = r();
      if (k < 0.2) return { kind: 'clean', wire: clean, expect: ok };
      if (k < 0.6) {
        // One byte of header, data or FCS changed (before escaping): CRC-16 catches every single-byte error.
        const inner = [...base.inner];
        const at = int(r, inner.length);
        inner[at] = other(r, inner[at]!);
        const reason = at < 2 ? 'intellivue_bad_header' : at < 4 ? 'intellivue_bad_length' : 'intellivue_bad_fcs';
        return { kind: 'byte_changed', wire: philipsEscape(inner), expect: { frames: 0, rejects: [reason] } };
      }
      if (k < 0.7) {
        // Frame abort: 7D C1 after a cut that does not split an escape pair.
        let cut = 1 + int(r, clean.length - 2);
        while (clean[cut - 1] === 0x7d) cut--;
        const wire = Buffer.concat([clean.subarray(0, Math.max(1, cut)), Buffer.from([0x7d, 0xc1])]);
        return { kind: 'abort', wire, expect: { frames: 0, rejects: ['intellivue_abort'] } };
      }
      if (k < 0.8) {
        // Line noise (no BOF) before a good frame: one stray-bytes rejection, then the frame.
        const noise = Buffer.from(bytesOf(r, 1 + int(r, 40), (b) => b !== 0xc0));
        return { kind: 'noise', wire: Buffer.concat([noise, clean]), expect: { frames: 1, rejects: ['intellivue_stray_bytes'], payloads: [base.data] } };
      }
      if (k < 0.9) {
        // EOF lost (cut, not inside an escape pair), then a good frame.
        let cut = 1 + int(r, clean.length - 1);
        while (clean[cut - 1] === 0x7d) cut--;
        const next = pick(r, pool);
        const wire = Buffer.concat([clean.subarray(0, Math.max(1, cut)), philipsEscape(next.inner)]);
        return { kind: 'eof_lost', wire, expect: { frames: 1, rejects: ['intellivue_unterminated'], payloads: [next.data] } };
      }
      // A byte lost: the length or the FCS no longer holds (a frame that shrinks below 6 bytes is short).
      const inner = [...base.inner];
      inner.splice(int(r, inner.length), 1);
      const n = ((inner[2] ?? 0) << 8) | (inner[3] ?? 0);
      const reason =
        inner.length < 6
          ? 'intellivue_short_frame'
          : inner[0] !== 0x11 || inner[1] !== 0x01
            ? 'intellivue_bad_header'
            : n !== inner.length - 6
              ? 'intellivue_bad_length'
              : 'intellivue_bad_fcs';
      return { kind: 'byte_lost', wire: philipsEscape(inner), expect: { frames: 0, rejects: [reason] } };
    },
  };
}

// ---------- GE S/5: 7E | stuff(record sum) | 7E, 8-bit sum ----------------------------------------

function geStuff(inner: number[]): Buffer {
  const out = [0x7e];
  for (const b of inner) {
    if (b === 0x7e) out.push(0x7d, 0x5e);
    else if (b === 0x7d) out.push(0x7d, 0x5d);
    else out.push(b);
  }
  out.push(0x7e);
  return Buffer.from(out);
}

function geLayer(r0: () => number): Layer {
  const records: Buffer[] = ['V-GE-1', 'V-GE-2', 'V-GE-3', 'V-GE-4', 'V-GE-5'].map((k) => {
    const w = hex(REF[k]!);
    const inner: number[] = [];
    for (let i = 1; i < w.length - 1; i++) inner.push(w[i] === 0x7d ? w[++i]! | 0x20 : w[i]!);
    return Buffer.from(inner.slice(0, -1));
  });
  while (records.length < 64) {
    const rec = Buffer.from(bytesOf(r0, 40 + int(r0, 300), () => true));
    rec.writeUInt16LE(rec.length, 0);
    records.push(rec);
  }
  const pool = records.map((rec) => {
    const wire = geFrame(rec); // the simulator's own framing
    let sum = 0;
    for (const b of rec) sum = (sum + b) & 0xff;
    return { wire, inner: [...rec, sum], rec };
  });
  return {
    decoder: () => {
      const d = new GeFrames();
      return {
        push: (b) => {
          const o = d.push(b);
          return { frames: o.frames.length, rejects: o.rejects, payloads: o.frames };
        },
      };
    },
    item: (r) => {
      const base = pick(r, pool);
      const k = r();
      if (k < 0.2) return { kind: 'clean', wire: base.wire, expect: { frames: 1, rejects: [], payloads: [base.rec] } };
      if (k < 0.6) {
        // One byte of record or checksum changed before stuffing: the 8-bit sum catches it.
        const inner = [...base.inner];
        const at = int(r, inner.length);
        inner[at] = other(r, inner[at]!);
        return { kind: 'byte_changed', wire: geStuff(inner), expect: { frames: 0, rejects: ['ge_bad_checksum'] } };
      }
      if (k < 0.7) {
        // A 7D followed by a byte that is no stuffing code.
        const w = base.wire;
        let at = 1 + int(r, w.length - 2);
        while (w[at - 1] === 0x7d) at++; // not between a 7D and the byte it stuffs
        const bad = other(r, 0x5d, (b) => b !== 0x5e && b !== 0x7e && b !== 0x7d);
        const wire = Buffer.concat([w.subarray(0, at), Buffer.from([0x7d, bad]), w.subarray(at)]);
        return { kind: 'bad_escape', wire, expect: { frames: 0, rejects: ['ge_bad_escape'] } };
      }
      if (k < 0.8) {
        // Noise (no flag, no 7D, shorter than a header) before a good frame: a short candidate frame.
        const noise = Buffer.from(bytesOf(r, 1 + int(r, 40), (b) => b !== 0x7e && b !== 0x7d));
        return { kind: 'noise', wire: Buffer.concat([noise, base.wire]), expect: { frames: 1, rejects: ['ge_short_frame'], payloads: [base.rec] } };
      }
      if (k < 0.9) {
        // A byte lost: r_len no longer matches, or the sum fails (or the frame is shorter than a header).
        const inner = [...base.inner];
        const at = int(r, inner.length);
        inner.splice(at, 1);
        let sum = 0;
        for (let i = 0; i < inner.length - 1; i++) sum = (sum + inner[i]!) & 0xff;
        const reason = inner.length < 41 ? 'ge_short_frame' : sum !== inner[inner.length - 1] ? 'ge_bad_checksum' : 'ge_bad_length';
        return { kind: 'byte_lost', wire: geStuff(inner), expect: { frames: 0, rejects: [reason] } };
      }
      // Two frames back to back sharing one flag, the first with its checksum broken.
      const inner = [...base.inner];
      inner[inner.length - 1] = (inner[inner.length - 1]! + 1) & 0xff;
      const next = pick(r, pool);
      const wire = Buffer.concat([geStuff(inner).subarray(0, -1), next.wire]);
      return { kind: 'shared_flag', wire, expect: { frames: 1, rejects: ['ge_bad_checksum'], payloads: [next.rec] } };
    },
  };
}

// ---------- MEDIBUS: ESC/SOH code data CHK(2 hex) CR; realtime >= 0x80, XON/XOFF, CAN ------------

const MB_CONTROL = new Set([0x1b, 0x01, 0x0d, 0x18, 0x11, 0x13]);

function medibusLayer(r0: () => number): Layer {
  const field = (code: number, v: string): string => code.toString(16).toUpperCase().padStart(2, '0') + v.padStart(4, ' ');
  const pool: { wire: Buffer; payload: string }[] = [];
  const add = (start: 0x1b | 0x01, code: number, text: string): void => {
    pool.push({ wire: medibusMessage(start, code, text), payload: `${start === 0x1b ? 'command' : 'response'}:${code}:${text}` });
  };
  add(0x1b, 0x51, ''); // V-MB-1
  add(0x01, 0x51, ''); // V-MB-2
  add(0x1b, 0x30, ''); // V-MB-5
  add(0x01, 0x24, `${field(0xeb, '98')}${field(0xe1, '70')}`); // V-MB-9
  add(0x01, 0x27, 'K10PAW HIGH    '); // V-MB-16
  add(0x01, 0x52, "0161'My PC'01.00:03.00"); // V-MB-4
  while (pool.length < 64) {
    let text = '';
    for (let i = int(r0, 8); i > 0; i--) text += field(0x70 + int(r0, 0x80), String(int(r0, 2000) - 500));
    add(pick(r0, [0x1b, 0x01] as const), 0x20 + int(r0, 0x40), text);
  }
  const responses = pool.filter((p) => p.wire[0] === 0x01);
  const printable = (b: number): boolean => b >= 0x20 && b < 0x7f;
  return {
    decoder: () => {
      const d = new MedibusFrames();
      return {
        push: (b) => {
          const o = d.push(b);
          return { frames: o.frames.length, rejects: o.rejects, payloads: o.frames.map((f) => `${f.kind}:${f.code}:${f.data}`) };
        },
      };
    },
    item: (r) => {
      const base = pick(r, pool);
      const ok: Expected = { frames: 1, rejects: [], payloads: [base.payload] };
      const w = base.wire;
      const k = r();
      if (k < 0.2) return { kind: 'clean', wire: w, expect: ok };
      if (k < 0.55) {
        // One 7-bit byte between the start byte and the CR changed (never to a control byte).
        const wire = Buffer.from(w);
        const at = 1 + int(r, w.length - 2);
        wire[at] = other(r, w[at]!, (b) => b < 0x80 && !MB_CONTROL.has(b));
        return { kind: 'byte_changed', wire, expect: { frames: 0, rejects: ['medibus_bad_checksum'] } };
      }
      if (k < 0.7) {
        // Realtime bytes (>= 0x80) and XON/XOFF interleaved anywhere: stripped, the frame holds.
        const parts: number[] = [];
        for (const b of w) {
          while (r() < 0.15) parts.push(r() < 0.8 ? 0x80 + int(r, 0x80) : pick(r, [0x11, 0x13]));
          parts.push(b);
        }
        return { kind: 'interleaved', wire: Buffer.from(parts), expect: ok };
      }
      if (k < 0.8) {
        // CAN aborts the message in progress, silently (a protocol control, not damage); then a good response.
        const next = pick(r, responses);
        const cut = 1 + int(r, w.length - 1);
        return {
          kind: 'cancelled',
          wire: Buffer.concat([w.subarray(0, cut), Buffer.from([0x18]), next.wire]),
          expect: { frames: 1, rejects: [], payloads: [next.payload] },
        };
      }
      if (k < 0.9) {
        // CR lost, then a good response: the first is unterminated.
        const next = pick(r, responses);
        const cut = 1 + int(r, w.length - 1);
        return {
          kind: 'cr_lost',
          wire: Buffer.concat([w.subarray(0, cut), next.wire]),
          expect: { frames: 1, rejects: ['medibus_unterminated'], payloads: [next.payload] },
        };
      }
      // Printable noise outside any message, then the message.
      const noise = Buffer.from(bytesOf(r, 1 + int(r, 30), printable));
      return { kind: 'noise', wire: Buffer.concat([noise, w]), expect: { frames: 1, rejects: ['medibus_stray_bytes'], payloads: [base.payload] } };
    },
  };
}

// ---------- Masimo ASCII 1 and wg1 lines: through their sessions (line splitter + parser) -----------

/** `metrics`: the value readings compared as payloads (alarm edges and status readings are not values). */
function sessionDecoder(s: Session, metrics: ReadonlySet<string>): { push(b: Buffer): Observed } {
  s.open(0);
  return {
    push: (b) => {
      const o = s.data(b, 0);
      const payloads = o.readings.filter((x) => metrics.has(x.metric) && x.priorityClass !== 'alarm').map((x) => `${x.metric}=${x.value}`);
      return { frames: o.frames, rejects: o.rejects, payloads };
    },
  };
}

function masimoLayer(): Layer {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return {
    decoder: () => sessionDecoder(PROTOCOLS.masimo.createSession({ pollIntervalMs: 1000 }), new Set(['spo2', 'pulse_rate_oximeter'])),
    item: (r) => {
      const dash = r() < 0.1;
      const spo2 = 50 + int(r, 51);
      const bpm = 20 + int(r, 250);
      const pi = int(r, 2000) / 100;
      const time = `${p2(1 + int(r, 12))}/${p2(1 + int(r, 28))}/${p2(int(r, 100))} ${p2(int(r, 24))}:${p2(int(r, 60))}:${p2(int(r, 60))}`;
      const tokens = [
        time,
        `SN=${String(int(r, 1e9)).padStart(10, '0')}`,
        `SPO2=${dash ? '---' : String(spo2).padStart(3, '0')}%`,
        `BPM=${dash ? '---' : String(bpm).padStart(3, '0')}`,
        `PI=${dash ? '--.--' : pi.toFixed(2).padStart(5, '0')}%`,
        'SPCO=00.9%',
        'SPMET=00.6%',
        'DESAT=00',
        `PIDELTA=${pick(r, ['+', ' '])}00`,
        'PVI=014',
        'ALARM=0000',
        `EXC=${dash ? '000820' : '000800'}`,
      ];
      const values = dash ? [] : [`spo2=${spo2}`, `pulse_rate_oximeter=${bpm}`];
      const line = (t: string[]): Buffer => Buffer.from(`${t.join(' ')}\r\n`, 'latin1');
      const k = r();
      if (k < 0.25) return { kind: 'clean', wire: line(tokens), expect: { frames: 1, rejects: [], payloads: values } };
      const letter = (): string => pick(r, [...'GHIJKLMNOPQRSTUVWXYZghijklmnopqrstuvwxyz']);
      const spoil = (t: string, from: number): string => {
        const at = from + int(r, t.length - from);
        return t.slice(0, at) + letter() + t.slice(at + 1);
      };
      if (k < 0.4 && !dash) {
        // A digit of SpO2 changed to another digit: no checksum in ASCII 1, so the new value is decoded.
        const s = String(spo2).padStart(3, '0');
        const at = int(r, 3);
        const d = String((Number(s[at]) + 1 + int(r, 9)) % 10);
        const ns = s.slice(0, at) + d + s.slice(at + 1);
        const t = [...tokens];
        t[2] = `SPO2=${ns}%`;
        return { kind: 'digit_changed', wire: line(t), expect: { frames: 1, rejects: [], payloads: [`spo2=${Number(ns)}`, values[1]!] } };
      }
      if (k < 0.55) {
        const t = [...tokens];
        const which = 2 + int(r, 3); // SPO2, BPM or PI
        t[which] = spoil(t[which]!.replace(/%$/, ''), t[which]!.indexOf('=') + 1) + (which === 3 ? '' : '%');
        return { kind: 'letter_in_value', wire: line(t), expect: { frames: 0, rejects: ['masimo_bad_value'] } };
      }
      if (k < 0.65) {
        const t = [...tokens];
        const which = 10 + int(r, 2); // ALARM or EXC
        t[which] = spoil(t[which]!, t[which]!.indexOf('=') + 1);
        return { kind: 'letter_in_flags', wire: line(t), expect: { frames: 0, rejects: ['masimo_bad_flags'] } };
      }
      if (k < 0.72) {
        const t = [...tokens];
        const digits = [0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16];
        const at = pick(r, digits);
        t[0] = t[0]!.slice(0, at) + letter() + t[0]!.slice(at + 1);
        return { kind: 'bad_time', wire: line(t), expect: { frames: 0, rejects: ['masimo_bad_time'] } };
      }
      if (k < 0.8) {
        const lost = 2 + int(r, 2); // SPO2 or BPM
        const t = tokens.filter((_, i) => i !== lost);
        return { kind: 'field_lost', wire: line(t), expect: { frames: 0, rejects: ['masimo_missing_field'] } };
      }
      if (k < 0.87) {
        const t = [...tokens];
        t.splice(1, 0, 'X'.repeat(520));
        return { kind: 'too_long', wire: line(t), expect: { frames: 0, rejects: ['line_too_long'] } };
      }
      // Any byte but LF/CR changed: one line in, so exactly one outcome (decoded or rejected), unknown which.
      const w = line(tokens);
      const at = int(r, w.length - 2);
      w[at] = other(r, w[at]!, (b) => b !== 0x0a && b !== 0x0d);
      return { kind: 'any_byte_changed', wire: w, expect: { frames: -1, rejects: [] } };
    },
  };
}

function wg1Layer(): Layer {
  const xor = (s: string): string => {
    let x = 0;
    for (let i = 0; i < s.length; i++) x ^= s.charCodeAt(i);
    return x.toString(16).toUpperCase().padStart(2, '0');
  };
  const keys = [
    ['SPO2', 'spo2'],
    ['PR', 'pulse_rate_oximeter'],
    ['HR', 'heart_rate'],
    ['RR', 'resp_rate'],
    ['TEMP', 'body_temp'],
    ['NIBP_SYS', 'nibp_sys'],
    ['ETCO2', 'etco2'],
  ] as const;
  return {
    decoder: () => sessionDecoder(PROTOCOLS.line.createSession({ pollIntervalMs: 1000, options: { format: 'wg1' } }), new Set(keys.map((k) => k[1]))),
    item: (r) => {
      const fields: string[] = [];
      const values: string[] = [];
      for (const [key, metric] of keys) {
        if (r() < 0.4) continue;
        if (r() < 0.1) fields.push(`${key}=-`);
        else {
          const v = int(r, 3000) / 10;
          fields.push(`${key}=${v}`);
          values.push(`${metric}=${v}`);
        }
      }
      const unknown = r() < 0.1;
      if (unknown) fields.splice(int(r, fields.length + 1), 0, `ZZ${int(r, 100)}=1`);
      const body = `WG1,bed${int(r, 40)},2025-01-07T19:18:${String(int(r, 60)).padStart(2, '0')}Z${fields.map((f) => `,${f}`).join('')}`;
      const text = `$${body}*${xor(body)}\r\n`;
      const w = Buffer.from(text, 'latin1');
      const k = r();
      if (k < 0.3) return { kind: 'clean', wire: w, expect: { frames: 1, rejects: unknown ? ['line_unknown_key'] : [], payloads: values } };
      if (k < 0.8) {
        // One byte between '$' and '*' changed: the XOR checksum catches every single-byte change.
        const at = 1 + int(r, body.length);
        w[at] = other(r, w[at]!, (b) => b !== 0x0a && b !== 0x0d);
        return { kind: 'byte_changed', wire: w, expect: { frames: 0, rejects: ['line_bad_checksum'] } };
      }
      if (k < 0.9) {
        // '$', '*' or the CR changed: no longer a wg1 sentence; a checksum digit changed: the sum fails.
        const at = pick(r, [0, body.length + 1, body.length + 2, body.length + 3, body.length + 4]);
        w[at] = other(r, w[at]!, (b) => b !== 0x0a && b !== 0x0d && b !== 0x2a);
        const reason = at === 0 || at === body.length + 1 || at === body.length + 4 ? 'line_bad_frame' : 'line_bad_checksum';
        return { kind: 'delimiter_changed', wire: w, expect: { frames: 0, rejects: [reason] } };
      }
      const pad = `,${'X'.repeat(260)}`;
      const long = `$${body}${pad}*${xor(body + pad)}\r\n`;
      return { kind: 'too_long', wire: Buffer.from(long, 'latin1'), expect: { frames: 0, rejects: ['line_too_long'] } };
    },
  };
}

// ---------- Nonin #2 (5-byte frames, sum) and #8 (4-byte frames, bit-7 sync) -----------------------

function nonin2Layer(): Layer {
  const chk = (f: number[]): number => (f[0]! + f[1]! + f[2]! + f[3]!) & 0xff;
  const frame = (status: number, pleth: number, float: number): number[] => {
    const f = [0x01, status, pleth, float];
    return [...f, chk(f)];
  };
  /** A frame with SYNC clear whose inner bytes are never 0x01, so resynchronisation after damage lands on the next frame's start. */
  const plain = (r: () => number): number[] => {
    for (;;) {
      const f = frame(0x80 | (int(r, 64) << 1), int(r, 256), int(r, 128) | 0x02);
      if (f[2] !== 0x01 && f[4] !== 0x01) return f;
    }
  };
  /** Would the five bytes from `at` pass as a frame (reference: 01, STATUS with bit 7, sum)? */
  const looksValid = (b: number[], at: number): boolean =>
    b[at] === 0x01 && (b[at + 1]! & 0x80) !== 0 && ((b[at]! + b[at + 1]! + b[at + 2]! + b[at + 3]!) & 0xff) === b[at + 4];
  return {
    decoder: () => {
      const d = new Format2Decoder();
      return {
        push: (b) => {
          const o = d.push(b);
          return { frames: o.frames, rejects: o.rejects, payloads: o.values.map((v) => `hr=${v.hr} spo2=${v.spo2}`) };
        },
      };
    },
    item: (r) => {
      const k = r();
      if (k < 0.3) {
        // A whole packet: 25 frames, SYNC on the first, HR 2+7 bits in frames 1-2, SpO2 in 3.
        const off = r() < 0.1;
        const hr = off ? 511 : 20 + int(r, 280);
        const spo2 = off ? 127 : 50 + int(r, 51);
        const bytes: number[] = [];
        for (let f = 1; f <= 25; f++) {
          const status = 0x80 | (off ? 0x40 : 0x02) | (f === 1 ? 0x01 : 0);
          bytes.push(...frame(status, int(r, 256), f === 1 ? (hr >> 7) & 0x03 : f === 2 ? hr & 0x7f : f === 3 ? spo2 : 0x30));
        }
        const payload = `hr=${off ? undefined : hr} spo2=${off ? undefined : spo2}`;
        return { kind: 'packet', wire: Buffer.from(bytes), expect: { frames: 25, rejects: [], payloads: [payload] } };
      }
      const damaged = (kind: string, bad: number[]): Item => ({
        kind,
        wire: Buffer.from([...bad, ...plain(r)]),
        expect: { frames: 1, rejects: ['nonin_resync'], payloads: [] },
      });
      if (k < 0.8) {
        // One byte changed (never to 0x01): the sum, the start byte or STATUS bit 7 gives it away.
        const bad = plain(r);
        const at = int(r, 5);
        bad[at] = other(r, bad[at]!, (b) => b !== 0x01);
        return damaged('byte_changed', bad);
      }
      if (k < 0.9) {
        // A byte lost; the four left and the next frame's 01 must not pass as a frame by chance.
        for (;;) {
          const bad = plain(r);
          bad.splice(int(r, 5), 1);
          if (!looksValid([...bad, 0x01], 0)) return damaged('byte_lost', bad);
        }
      }
      return damaged(
        'noise',
        bytesOf(r, 1 + int(r, 20), (b) => b !== 0x01),
      );
    },
  };
}

function nonin8Layer(): Layer {
  /** The reference's layout (§5.3, format #8), decoded here independently of src/. */
  const meaning = (f: number[]): string => {
    const hr = ((f[0]! & 0x03) << 7) | f[1]!;
    return `hr=${hr === 511 ? undefined : hr} spo2=${f[2] === 127 ? undefined : f[2]} off=${(f[0]! & 0x40) !== 0}`;
  };
  return {
    decoder: () => {
      const d = new Format8Decoder();
      return {
        push: (b) => {
          const o = d.push(b);
          return { frames: o.frames, rejects: o.rejects, payloads: o.values.map((v) => `hr=${v.hr} spo2=${v.spo2} off=${v.sensorOff}`) };
        },
      };
    },
    item: (r) => {
      const off = r() < 0.1;
      const hr = off ? 511 : 20 + int(r, 300);
      const spo2 = off ? 127 : 50 + int(r, 51);
      const f = [0x80 | (off ? 0x40 : 0) | (int(r, 8) << 2) | (hr >> 7), hr & 0x7f, spo2, int(r, 16)];
      const k = r();
      if (k < 0.3) return { kind: 'clean', wire: Buffer.from(f), expect: { frames: 1, rejects: [], payloads: [meaning(f)] } };
      const good = [0x80, 0x48, 0x62, 0x00];
      if (k < 0.5) {
        // A value byte changed, bit 7 still clear: format #8 has no checksum, the new value is decoded.
        const g = [...f];
        const at = 1 + int(r, 3);
        g[at] = other(r, g[at]!, (b) => b < 0x80);
        return { kind: 'value_changed', wire: Buffer.from(g), expect: { frames: 1, rejects: [], payloads: [meaning(g)] } };
      }
      if (k < 0.7) {
        // Bit 7 set in a later byte (a false start), or cleared in the first: the frame is dropped.
        const g = [...f];
        const at = int(r, 4);
        g[at] = at === 0 ? g[0]! & 0x7f : g[at]! | 0x80;
        return { kind: 'sync_broken', wire: Buffer.from([...g, ...good]), expect: { frames: 1, rejects: ['nonin_resync'], payloads: [meaning(good)] } };
      }
      if (k < 0.85) {
        const g = [...f];
        g.splice(int(r, 4), 1);
        return { kind: 'byte_lost', wire: Buffer.from([...g, ...good]), expect: { frames: 1, rejects: ['nonin_resync'], payloads: [meaning(good)] } };
      }
      const noise = bytesOf(r, 1 + int(r, 20), (b) => b < 0x80);
      return { kind: 'noise', wire: Buffer.from([...noise, ...good]), expect: { frames: 1, rejects: ['nonin_resync'], payloads: [meaning(good)] } };
    },
  };
}

function layerOf(name: LayerName, r0: () => number): Layer {
  switch (name) {
    case 'intellivue':
      return philipsLayer(r0);
    case 'ge-s5':
      return geLayer(r0);
    case 'medibus':
      return medibusLayer(r0);
    case 'masimo':
      return masimoLayer();
    case 'nonin-2':
      return nonin2Layer();
    case 'nonin-8':
      return nonin8Layer();
    case 'line':
      return wg1Layer();
  }
}

const eq = (a: string | Buffer, b: string | Buffer | undefined): boolean =>
  typeof a === 'string' || b === undefined || typeof b === 'string' ? a === b : a.equals(b);
const same = (a: readonly (string | Buffer)[], b: readonly (string | Buffer)[]): boolean => a.length === b.length && a.every((x, i) => eq(x, b[i]));

/** Runs `inputs` items through a fresh decoder of the layer and compares each outcome with what was injected. */
export function mutationFuzz(name: LayerName, inputs: number, seed = 1): FuzzReport {
  const r = rng(seed);
  const layer = layerOf(name, rng(seed ^ 0x5eed));
  let dec = layer.decoder();
  const rep: FuzzReport = {
    layer: name,
    inputs: 0,
    bytes: 0,
    kinds: {},
    expectedFrames: 0,
    observedFrames: 0,
    expectedRejects: 0,
    observedRejects: 0,
    rejectsByReason: {},
    mismatches: 0,
    exceptions: 0,
    ms: 0,
  };
  const t0 = performance.now();
  for (let i = 0; i < inputs; i++) {
    const it = layer.item(r);
    rep.inputs++;
    rep.bytes += it.wire.length;
    rep.kinds[it.kind] = (rep.kinds[it.kind] ?? 0) + 1;
    let got: Observed;
    try {
      // Half the items arrive in two reads split at a random byte boundary.
      if (r() < 0.5 && it.wire.length > 1) {
        const at = 1 + int(r, it.wire.length - 1);
        const a = dec.push(it.wire.subarray(0, at));
        const b = dec.push(it.wire.subarray(at));
        got = { frames: a.frames + b.frames, rejects: [...a.rejects, ...b.rejects], payloads: [...a.payloads, ...b.payloads] };
      } else got = dec.push(it.wire);
    } catch (e) {
      rep.exceptions++;
      rep.mismatches++;
      rep.firstMismatch ??= `${it.kind}: threw ${(e as Error).message}`;
      dec = layer.decoder();
      continue;
    }
    rep.observedFrames += got.frames;
    rep.observedRejects += got.rejects.length;
    for (const why of got.rejects) rep.rejectsByReason[why] = (rep.rejectsByReason[why] ?? 0) + 1;
    const e = it.expect;
    let ok: boolean;
    if (e.frames === -1) {
      // Exactly one outcome, either kind.
      ok = got.frames + got.rejects.length === 1;
      rep.expectedFrames += got.frames;
      rep.expectedRejects += 1 - got.frames;
    } else {
      ok = got.frames === e.frames && same(got.rejects, e.rejects) && (e.payloads === undefined || same(got.payloads, e.payloads));
      rep.expectedFrames += e.frames;
      rep.expectedRejects += e.rejects.length;
    }
    if (!ok) {
      rep.mismatches++;
      rep.firstMismatch ??= `${it.kind} ${it.wire.toString('hex')}: expected ${JSON.stringify(e)}, got ${JSON.stringify(got)}`.slice(0, 2000);
    }
  }
  rep.ms = performance.now() - t0;
  return rep;
}

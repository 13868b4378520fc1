/**
 * MEDIBUS realtime bytes (reference §4.5), the bytes >= 0x80 interleaved with the slow protocol:
 *  - `1101xxxx` sync byte: bits 0-3 say which of streams 1-4 follow, in ascending order;
 *  - `1100xxxx` sync command, followed by one argument byte (`C1 C3`: enable streams 1 and 2;
 *    `C0 C0` ends a sequence of sync commands);
 *  - `10dddddd 10dddddd` one value of a stream, low 6 bits first: a 12-bit raw value.
 * Physical value = min + raw x (max - min) / maxbin, with min, max and maxbin from the device's
 * realtime configuration (response to 0x53). Pure. The session (session.ts) requests the configuration,
 * configures the curves (0x54) and enables their streams with the sync command below.
 */
export interface RealtimeSample {
  /** Stream 1-4. */
  stream: number;
  raw: number;
}

export interface RealtimeCommand {
  command: number;
  arg: number;
}

export interface RealtimeOutput {
  samples: RealtimeSample[];
  commands: RealtimeCommand[];
  rejects: string[];
}

export class RealtimeDecoder {
  private streams: number[] = [];
  private low = -1;
  private command = -1;

  /** Forgets a half-read record or sync command. */
  reset(): void {
    this.streams = [];
    this.low = -1;
    this.command = -1;
  }

  /** Feeds realtime bytes (callers pass only bytes >= 0x80; others are rejected). */
  push(bytes: Uint8Array): RealtimeOutput {
    const out: RealtimeOutput = { samples: [], commands: [], rejects: [] };
    for (const b of bytes) {
      if (this.command >= 0) {
        out.commands.push({ command: this.command, arg: b });
        this.command = -1;
      } else if ((b & 0xf0) === 0xd0) {
        if (this.streams.length > 0) out.rejects.push('medibus_rt_short_sync');
        this.streams = [1, 2, 3, 4].filter((n) => b & (1 << (n - 1)));
        this.low = -1;
      } else if ((b & 0xf0) === 0xc0) this.command = b;
      else if ((b & 0xc0) === 0x80 && this.streams.length > 0) {
        if (this.low < 0) this.low = b & 0x3f;
        else {
          out.samples.push({ stream: this.streams.shift()!, raw: this.low | ((b & 0x3f) << 6) });
          this.low = -1;
        }
      } else out.rejects.push('medibus_rt_unexpected');
    }
    return out;
  }
}

/** Raw value -> physical value (reference §4.5). */
export function realtimeValue(raw: number, c: { min: number; max: number; maxbin: number }): number {
  return c.min + (raw * (c.max - c.min)) / c.maxbin;
}

/** One curve of the device's realtime configuration (response to 0x53, §4.4: 23 characters a curve). */
export interface RealtimeCurve {
  code: number;
  /** Sample interval, µs. */
  intervalUs: number;
  min: number;
  max: number;
  maxbin: number;
}

/**
 * The response to "request realtime configuration" (0x53): per curve 2 hex code, 8-character
 * interval in µs, 5-character MIN and MAX (decimal, leading spaces, maybe a '-' and a '.'),
 * 3 hex MAXBIN.
 */
export function realtimeConfig(data: string): RealtimeCurve[] | string {
  if (data.length % 23 !== 0) return 'medibus_rt_bad_config';
  const out: RealtimeCurve[] = [];
  for (let i = 0; i < data.length; i += 23) {
    const f = (a: number, b: number): string => data.slice(i + a, i + b).trim();
    const code = f(0, 2);
    const interval = f(2, 10);
    const maxbinText = f(20, 23);
    if (!/^[0-9A-Fa-f]{2}$/.test(code) || !/^\d+$/.test(interval) || !/^[0-9A-Fa-f]{1,3}$/.test(maxbinText)) return 'medibus_rt_bad_config';
    const num = (t: string): number => (/^-?(\d+\.?\d*|\.\d+)$/.test(t) ? Number(t) : NaN);
    const min = num(f(10, 15));
    const max = num(f(15, 20));
    const maxbin = parseInt(maxbinText, 16);
    if (!Number.isFinite(min) || !Number.isFinite(max) || max <= min || maxbin === 0) return 'medibus_rt_bad_config';
    out.push({ code: parseInt(code, 16), intervalUs: Number(interval), min, max, maxbin });
  }
  return out;
}

const hex2 = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');

/** Argument of "configure realtime transmission" (0x54, V-MB-19): per curve its code and multiplier as 2 hex digits each. */
export function configureArgument(curves: readonly { code: number; multiplier: number }[]): string {
  return curves.map((c) => hex2(c.code) + hex2(c.multiplier)).join('');
}

/**
 * The sync command that enables realtime streams 1-4 (V-MB-20, `D0 C1 C3 C0 C0` = streams 1+2): a
 * sync byte with no data (D0), command C1 with the stream bits in its argument (1100xxxx), and the
 * end of the sequence (C0 C0). An empty list disables every stream.
 */
export function enableStreams(streams: readonly number[]): Buffer {
  let bits = 0;
  for (const s of streams) if (s >= 1 && s <= 4) bits |= 1 << (s - 1);
  return Buffer.from([0xd0, 0xc1, 0xc0 | bits, 0xc0, 0xc0]);
}

/**
 * MEDIBUS realtime bytes (reference §4.5), the bytes >= 0x80 interleaved with the slow protocol:
 *  - `1101xxxx` sync byte: bits 0-3 say which of streams 1-4 follow, in ascending order;
 *  - `1100xxxx` sync command, followed by one argument byte (`C1 C3`: enable streams 1 and 2;
 *    `C0 C0` ends a sequence of sync commands);
 *  - `10dddddd 10dddddd` one value of a stream, low 6 bits first: a 12-bit raw value.
 * Physical value = min + raw x (max - min) / maxbin, with min, max and maxbin from the device's
 * realtime configuration (response to 0x53). Pure; not yet used by the session (waves not requested).
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

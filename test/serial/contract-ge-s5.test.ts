/**
 * The serial family with a GE/Datex-Ohmeda S/5 (DRI records over a real socat pty pair) passes the device adapter contract.
 *
 * The monitor end is a small S/5 built from the simulator's own wire code (hardware-mocks/serial/ge-wire.ts: framing,
 * DRI header, basic and ext1 class data; independent of src/) and behaving as hardware-mocks/ge-s5.ts does: silent
 * until the gateway asks for displayed values, then a record every `intervalMs`, silent again when asked to stop
 * (interval 0, what the gateway sends on stop) or when its port reopens. It is not GeS5Simulator itself because that
 * one sends marker values by design from its 7th record on (T1 over range, SpO2 artifact, CVP zeroing, ART not
 * updated): the pipeline keeps those as readings with no number (NaN and a value-absent flag, reading.ts), which the
 * contract's "every drained value is finite" checks would count as failures. Here every value is a number.
 */

import { DevicePort } from '../../hardware-mocks/serial/device-port.js';
import { basicClass, driRecord, ext1Class, FrameReader, frame, physSubrecord } from '../../hardware-mocks/serial/ge-wire.js';
import { adapterSuite } from '../devices/adapter-suite.js';
import { serialFixture } from './helpers/contract.js';
import { serialRig } from './helpers/rig.js';

const MAX_PENDING = 40;
const T0 = 1_736_277_504; // 2025-01-07 19:18:24 UTC, the records' device time (s)

/** A displayed-values record (§3.5): basic class (HR, ART on P1, CVP on P2, NIBP, T1, SpO2/PR, CO2) and ext1 (R-R time, ICP on P7). */
function record(i: number): Buffer {
  const t = T0 + i;
  const hr = 70 + (i % 7);
  const basic = basicClass({
    ecg: { values: { hr } },
    p1: { label: 1, values: { sys: 120 + (i % 5), dia: 78, mean: 92 } },
    p2: { label: 2, values: { mean: 8 } },
    nibp: { values: { sys: 118, dia: 76, mean: 90 } },
    t1: { values: { temp: 37.1 } },
    spo2: { values: { spo2: 97 + (i % 3), pr: 71 } },
    co2: { values: { et: 5.2, fi: 0.1, rr: 13, amb_press: 760 } },
  });
  const ext1 = ext1Class({ arrh_ecg: { values: { hr, rr_time: Math.round(60_000 / hr) } }, p7: { label: 7, values: { mean: 11 } } });
  return driRecord(0, t, 10, [
    { type: 1, data: physSubrecord(t, 0, basic) },
    { type: 1, data: physSubrecord(t, 1, ext1) },
  ]);
}
/** Readings one record gives the gateway: 13 from the basic class (hr, 3 ART, cvp, 3 NIBP, T1, spo2, pr, etco2, rr), 2 from ext1. */
const PER_RECORD = 15;
/** A record on the wire: 40-byte header + two 278-byte subrecords + checksum + two flags, more when bytes are stuffed. */
const RECORD_WIRE = 40 + 2 * 278 + 1 + 2;
/**
 * Readings one 1 KiB slice can complete: a record completes at its closing flag, and two closing flags are at least
 * RECORD_WIRE bytes apart, so a slice holds at most floor(1024 / RECORD_WIRE) + 1 of them (2) of 15 readings each.
 */
const PER_SLICE = (Math.floor(1024 / RECORD_WIRE) + 1) * PER_RECORD;

/** The S/5's end of the cable (see the header): answers the displayed-values request as hardware-mocks/ge-s5.ts does. */
class S5 {
  readonly port: DevicePort;
  private readonly reader = new FrameReader();
  private timer: NodeJS.Timeout | null = null;
  private sent = 0;

  constructor(path: string, intervalMs: number) {
    this.port = new DevicePort({
      path,
      baudRate: 19200,
      parity: 'even',
      onData: (c) => {
        for (const r of this.reader.feed(c)) {
          const sub = r.subarray(40);
          if (r.readUInt16LE(14) !== 0 || sub[0] !== 1) continue; // alarm requests: this S/5 shows no alarms
          this.halt();
          if (sub.readInt16LE(1) !== 0) this.timer = setInterval(() => this.send(), intervalMs); // interval 0: stop
        }
      },
      onOpen: () => this.halt(),
    });
  }

  start(): void {
    this.port.start();
  }

  /** The next record, framed. */
  next(): Buffer {
    return frame(record(this.sent++));
  }

  /** Sends one record (whatever was asked). */
  send(): void {
    this.port.write(this.next());
  }

  private halt(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async stop(): Promise<void> {
    this.halt();
    await this.port.stop();
  }
}

/** `rec` framed with checksum `sum` (stuffing as §3.2): a frame whose checksum is wrong when `sum` is. */
function framedWithSum(rec: Buffer, sum: number): Buffer {
  const out = [0x7e];
  for (const b of [...rec, sum & 0xff]) {
    if (b === 0x7e || b === 0x7d) out.push(0x7d, b & ~0x20);
    else out.push(b);
  }
  out.push(0x7e);
  return Buffer.from(out);
}
const sum8 = (b: Buffer): number => b.reduce((a, x) => (a + x) & 0xff, 0);

adapterSuite('serial (ge-s5)', async () => {
  const rig = await serialRig([{ protocol: 'ge-s5', bed: 'BED-05', pollInterval: 100, silenceTimeout: 500 }], { maxPendingReadings: MAX_PENDING });
  const pair = rig.pairs[0]!;
  const s5 = new S5(pair.device, 20);
  return {
    ...serialFixture(rig, s5, { intervalMs: 20, flood: () => s5.next(), floods: 500, maxHeldReadings: MAX_PENDING + PER_SLICE }),
    keepSending() {
      // The gateway's stop asks the S/5 to stop (displayed values every 0 s), and it falls quiet; this one goes on.
      const t = setInterval(() => s5.send(), 20);
      return () => clearInterval(t);
    },
    async garbage() {
      const good = record(0);
      // Each is a whole frame (or run of bytes) between two of the monitor's frames, so the flags around it end it and
      // the next record decodes; each is one reason in the frame decoder (frame.ts) or the record decoder (decode.ts).
      const wrongLength = Buffer.from(good);
      wrongLength.writeUInt16LE(good.length + 2, 0);
      const badOffset = Buffer.from(good);
      badOffset.writeInt16LE(2000, 16 + 3); // the ext1 subrecord starts past the record's end
      const shortSub = driRecord(0, T0, 10, [{ type: 1, data: Buffer.alloc(100) }]);
      const shortAlarm = driRecord(4, T0, 10, [{ type: 1, data: Buffer.alloc(200) }]);
      const stuffed = frame(good);
      const bad = [
        framedWithSum(good, sum8(good) ^ 0x01), // ge_bad_checksum: the sum of the record's bytes is off by one bit
        frame(wrongLength), // ge_bad_length: checksum right, r_len says 2 bytes more than the record has
        // ge_bad_escape: 7D 41, at byte 20 (in the header, not inside a stuffed pair)
        Buffer.concat([stuffed.subarray(0, 20), Buffer.from([0x7d, 0x41]), stuffed.subarray(20)]),
        Buffer.from([0x7e, 0x01, 0x02, 0x03, 0x7e]), // ge_short_frame: three bytes between two flags
        Buffer.concat([Buffer.from([0x7e]), Buffer.alloc(2000, 0x11), Buffer.from([0x7e])]), // ge_too_long: 2000 bytes, no record is
        frame(badOffset), // ge_bad_subrecord: a good frame whose subrecord list points past the data
        frame(shortSub), // ge_short_subrecord: displayed values of 100 bytes, not 278
        frame(shortAlarm), // ge_short_alarm: an alarm message of 200 bytes, not 510
      ];
      for (const b of bad) s5.port.write(b);
      return bad.length;
    },
  };
});

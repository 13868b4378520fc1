/** The serial family with a Nonin oximeter (format 2, free-running, over a real socat pty pair) passes the device adapter contract. */
import { NoninSimulator } from '../../hardware-mocks/nonin.js';
import { adapterSuite } from '../devices/adapter-suite.js';
import { serialFixture } from './helpers/contract.js';
import { serialRig } from './helpers/rig.js';

const MAX_PENDING = 40;

/** A 5-byte format-2 frame (reference §5.3): 01 STATUS PLETH FLOAT CHK, CHK the sum of the first four mod 256. */
const frame = (status: number, pleth: number, float: number): number[] => [0x01, status, pleth, float, (0x01 + status + pleth + float) & 0xff];

/** A format-2 packet as the simulator sends it: 25 frames, SYNC (status bit 0) on frame 1, HR 2+7 bits in frames 1/2, SpO2 in frame 3. */
function packet(hr: number, spo2: number): Buffer {
  const out: number[] = [];
  for (let f = 1; f <= 25; f++) {
    const float = f === 1 ? (hr >> 7) & 0x03 : f === 2 ? hr & 0x7f : f === 3 ? spo2 : 0;
    out.push(...frame(0x82 | (f === 1 ? 0x01 : 0), Math.round(128 + 100 * Math.sin(f / 4)) & 0xff, float));
  }
  return Buffer.from(out);
}
const PACKET = packet(75, 96).length; // 125 bytes
/**
 * Readings one 1 KiB slice can complete: a packet's values complete with its third frame, one per 125-byte packet,
 * so at most floor(1024 / 125) + 1 of them (9) in a slice; each gives SpO2 and pulse, and at most one edge of the
 * SENSOR_OFF technical alarm (the simulator's finger is out every 30th packet).
 */
const PER_SLICE = (Math.floor(1024 / PACKET) + 1) * 3;

adapterSuite('serial (nonin)', async () => {
  // The format is recognised from the stream (auto, the default). Ticks every 100 ms: the path check and silence see a
  // vanished device sooner than with the protocol's 1 s tick.
  const rig = await serialRig([{ protocol: 'nonin', bed: 'BED-11', pollInterval: 100, silenceTimeout: 400 }], { maxPendingReadings: MAX_PENDING });
  const pair = rig.pairs[0]!;
  const sim = new NoninSimulator({ port: pair.device, format: 2, intervalMs: 20, seed: 6 });
  return {
    ...serialFixture(rig, sim, { intervalMs: 20, flood: (i) => packet(70 + (i % 10), 94 + (i % 4)), floods: 2000, maxHeldReadings: MAX_PENDING + PER_SLICE }),
    async garbage() {
      // Format 2 resynchronises one byte at a time and counts each run of dropped bytes once (nonin/decode.ts): bad
      // items back to back would be one run. So each is written between two of the oximeter's packets and followed by
      // one good frame without SYNC (ends the run, gives no values; the next packet's SYNC frame starts values again).
      const filler = Buffer.from(frame(0x82, 0x80, 0));
      const bad = [
        Buffer.from([0x01, 0x82, 0x80, 0x00, 0x00]), // a frame whose checksum is wrong (0x03 is right)
        Buffer.from([0x55, 0xaa, 0x33, 0xff]), // line noise: no 0x01 to start a frame
        Buffer.from([0x01, 0x02, 0x80, 0x00, 0x83]), // a STATUS byte without bit 7 (checksum right)
        Buffer.from([0x01, 0x82, 0x80]), // a frame cut short: with the filler's first bytes its checksum fails
        Buffer.from([0x01, 0x01, 0x01, 0x01, 0x01]), // 0x01 runs: each restart fails on a STATUS without bit 7
      ];
      for (const b of bad) sim.port.write(Buffer.concat([b, filler]));
      return bad.length;
    },
  };
});

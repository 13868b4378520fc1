/** The serial family (Masimo ASCII over a real socat pty pair) passes the device adapter contract. */
import { MasimoSimulator } from '../../hardware-mocks/masimo.js';
import { adapterSuite } from '../devices/adapter-suite.js';
import { serialFixture } from './helpers/contract.js';
import { serialRig } from './helpers/rig.js';

const MAX_PENDING = 40;
const line = (i: number): Buffer =>
  Buffer.from(`01/07/25 19:18:${String(i % 60).padStart(2, '0')} SN=0000012345 SPO2=097% BPM=072 PI=02.35% ALARM=0000 EXC=000800\r\n`);
/** Readings one 1 KiB slice of these lines can complete: at most floor(1024 / length) + 1 lines of 3 values (SpO2, pulse, PI). */
const PER_SLICE = (Math.floor(1024 / line(0).length) + 1) * 3;

adapterSuite('serial (masimo)', async () => {
  const rig = await serialRig([{ protocol: 'masimo', bed: 'BED-07', silenceTimeout: 400 }], { maxPendingReadings: MAX_PENDING });
  const pair = rig.pairs[0]!;
  const sim = new MasimoSimulator({ port: pair.device, intervalMs: 20, seed: 3 });
  return {
    ...serialFixture(rig, sim, { intervalMs: 20, flood: (i) => line(i), floods: 3000, maxHeldReadings: MAX_PENDING + PER_SLICE }),
    async garbage() {
      const bad = [
        'garbage',
        '01/07/25 19:18:24 SPO2=NaN% BPM=072',
        '99/99/99 99:99:99 SPO2=097% BPM=072',
        '\u0000\u00ff\u0013 noise',
        '01/07/25 19:18:24 SPO2=097% BPM=1e999',
      ];
      sim.port.write(Buffer.from('\r\n'));
      for (const b of bad) sim.port.write(Buffer.from(`${b}\r\n`, 'latin1'));
      return bad.length;
    },
  };
});

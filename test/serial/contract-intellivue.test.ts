/** The serial family with an IntelliVue (association, polls) over a real socat pty pair passes the device adapter contract. */
import { IntellivueSimulator } from '../../hardware-mocks/intellivue.js';
import { adapterSuite } from '../devices/adapter-suite.js';
import { serialFixture } from './helpers/contract.js';
import { serialRig } from './helpers/rig.js';
import { hex, REF } from './vectors.js';

const MAX_PENDING = 40;
/** Readings one 1 KiB slice can carry: about eight V-PH-7 results of three numerics. */
const PER_SLICE = 30;

adapterSuite('serial (intellivue)', async () => {
  const rig = await serialRig([{ protocol: 'intellivue', bed: 'BED-02', pollInterval: 50, silenceTimeout: 1000 }], { maxPendingReadings: MAX_PENDING });
  const pair = rig.pairs[0]!;
  const sim = new IntellivueSimulator({ port: pair.device, seed: 4 });
  const result = hex(REF['V-PH-7']!);
  return {
    ...serialFixture(rig, sim, { intervalMs: 50, flood: () => result, floods: 5000, maxHeldReadings: MAX_PENDING + PER_SLICE }),
    keepSending() {
      // A monitor answers the gateway's release and falls quiet; this one goes on sending results.
      const t = setInterval(() => sim.port.write(result), 50);
      return () => clearInterval(t);
    },
    async garbage() {
      const n = 6;
      for (let i = 0; i < n; i++) {
        const bad = Buffer.from(result);
        bad[30 + i] = bad[30 + i]! ^ 0x10; // inside the user data: the FCS fails
        sim.port.write(bad);
      }
      return n;
    },
  };
});

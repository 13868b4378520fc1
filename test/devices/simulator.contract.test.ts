/** The simulator family passes the device adapter contract (its devices live inside the adapter: no garbage, nothing to unplug). */
import { MAX_PENDING_SUBMITS, SimulatorAdapter } from '../../src/devices/simulator/adapter.js';
import { adapterSuite } from './adapter-suite.js';

const BEDS = 3;
const INTERVAL = 20;
/** Most samples one simulated monitor reports in one tick (HR, SpO2, PR, RR, ABP x3, etCO2, NBP x3, TEMP, BATT, alarms). */
const MAX_SAMPLES_PER_TICK = 20;

adapterSuite(
  'simulator',
  async () => ({
    adapter: new SimulatorAdapter({ enabled: true, beds: BEDS, interval: INTERVAL, alarmRate: 0.05, seed: 7 }),
    family: 'simulator',
    startDevices: async () => undefined,
    offered: () => undefined,
    intervalMs: INTERVAL,
    overwhelm: () => new Promise((r) => setTimeout(r, INTERVAL * 30)),
    maxHeldReadings: BEDS * MAX_SAMPLES_PER_TICK * MAX_PENDING_SUBMITS,
    close: async () => undefined,
  }),
  { garbage: false, disappear: false },
);

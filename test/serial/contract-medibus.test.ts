/** The serial family with a Dräger MEDIBUS device (slow protocol, polled, over a real socat pty pair) passes the device adapter contract. */
import { MedibusSimulator, message } from '../../hardware-mocks/medibus.js';
import { adapterSuite } from '../devices/adapter-suite.js';
import { serialFixture } from './helpers/contract.js';
import { serialRig } from './helpers/rig.js';

const MAX_PENDING = 40;
const SOH = 0x01;
/** Measured data (0x24) as the simulator answers it: five CP1 fields (2 hex code + 4 characters), all catalogue metrics. */
const FIELDS = (i: number): string => `EB  ${96 + (i % 3)}E1  ${70 + (i % 5)}D6  14E636.5`;
const data = (i: number): Buffer => message(SOH, 0x24, `${FIELDS(i)}88 450`);
/** Readings of one data response: spo2, pulse, resp rate, etCO2, tidal volume. */
const PER_DATA = 5;
/**
 * Readings one 1 KiB slice can complete. A data response (the simulator's and these: SOH, code, 30 characters,
 * checksum, CR) is 35 bytes for 5 readings and completes at its CR; CRs of data responses are at least 35 bytes apart,
 * so a slice completes at most floor(1024 / 35) + 1 of them. Alarm answers cost more bytes per reading (an alarm's
 * start is a 20-byte answer, its end the next 5-byte empty one), except that the end of an alarm started in an earlier
 * slice can come in 5 bytes: one more reading.
 */
const PER_SLICE = (Math.floor(1024 / data(0).length) + 1) * PER_DATA + 1;

adapterSuite('serial (medibus)', async () => {
  // Polls (data, alarms) every 50 ms; half a second of silence starts the protocol again with ICC, as after a lost ICC.
  const rig = await serialRig([{ protocol: 'medibus', bed: 'BED-09', pollInterval: 50, silenceTimeout: 500 }], { maxPendingReadings: MAX_PENDING });
  const pair = rig.pairs[0]!;
  const sim = new MedibusSimulator({ port: pair.device, seed: 5 });
  let n = 0;
  return {
    ...serialFixture(rig, sim, { intervalMs: 50, flood: () => data(n++), floods: 3000, maxHeldReadings: MAX_PENDING + PER_SLICE }),
    keepSending() {
      // The gateway's stop sends "stop communication" (0x55): the device drops the link and only offers ICC every
      // 3 s. This one goes on answering as if polled.
      const t = setInterval(() => sim.port.write(data(n++)), 50);
      return () => clearInterval(t);
    },
    async garbage() {
      // Each ends with its CR (or, for the stray bytes, is ended by the next SOH the device sends) between two of the
      // device's whole answers, so the frame decoder (frame.ts) is idle before and after it; each is one reason.
      const good = data(0);
      const badChecksum = Buffer.from(good);
      badChecksum[good.length - 2] = badChecksum[good.length - 2] === 0x30 ? 0x31 : 0x30; // last checksum digit changed
      const bad = [
        badChecksum, // medibus_bad_checksum
        message(SOH, 0x24, `EB NaN${FIELDS(0).slice(6)}`), // medibus_bad_value: SpO2 "NaN", a frame with a right checksum
        message(SOH, 0x24, `EB1e99${FIELDS(0).slice(6)}`), // medibus_bad_value: "1e99" is no MEDIBUS number (digits, '.', '-')
        message(SOH, 0x24, `EB -In${FIELDS(0).slice(6)}`), // medibus_bad_value: "-In" (an infinity cut to 4 characters)
        message(SOH, 0x24, `ZZ  96${FIELDS(0).slice(6)}`), // medibus_bad_code: "ZZ" is not 2 hex digits
        message(SOH, 0x24, 'EB  96E1'), // medibus_bad_data: 8 characters, not fields of 6
        message(SOH, 0x27, 'K10PAW HIGH'), // medibus_bad_alarms: an alarm of 11 characters, not 15
        Buffer.from([SOH, 0x41, 0x0d]), // medibus_short_frame: SOH, one byte, CR
        Buffer.concat([Buffer.from([SOH, 0x24]), Buffer.alloc(5000, 0x41), Buffer.from([0x0d])]), // medibus_too_long: 5002 bytes
        Buffer.from('line noise\r', 'latin1'), // medibus_stray_bytes: outside any frame, counted at the next SOH
      ];
      for (const b of bad) sim.port.write(b);
      return bad.length;
    },
  };
});

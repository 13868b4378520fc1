/** The `devices.ble` configuration: the controller, the allow-list and the connection policy. */
import { z } from 'zod';
import { duration } from '../../config/fields.js';
import { normaliseUuid } from './profiles/uuid.js';

const address = z
  .string()
  .regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/, 'a Bluetooth address such as C0:FF:EE:00:00:01')
  .transform((s) => s.toLowerCase());

const uuid = z
  .string()
  .regex(/^(0x)?[0-9A-Fa-f]{4}$|^[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}$/, 'a 16-bit (180d) or 128-bit UUID')
  .transform(normaliseUuid);

/** One registered wearable (or a family of them): matched by address, name pattern or advertised services. */
const bleDeviceSchema = z
  .object({
    address: address.optional(),
    /** A regular expression the advertised local name must match in full. */
    name: z.string().min(1).max(200).optional(),
    /** Every one of these must be advertised. */
    services: z.array(uuid).min(1).optional(),
    bed: z.string().min(1).max(128),
    patientId: z.string().min(1).max(128).optional(),
    /**
     * Glucose meters (RACP): on first contact (and after the meter's sequence counter restarted) import only records
     * taken from then on (`since-first-contact`: a meter newly registered to a bed may hold a previous patient's), or
     * every record the meter holds (`all`).
     */
    storedRecords: z.enum(['since-first-contact', 'all']).default('since-first-contact'),
  })
  .strict()
  .refine((d) => d.address !== undefined || d.name !== undefined || d.services !== undefined, {
    message: 'give an address, a name pattern or services (or more than one)',
  })
  .refine(
    (d) => {
      if (d.name === undefined) return true;
      try {
        new RegExp(d.name);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'name is not a valid regular expression' },
  );

export const bleConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** The controller: a HCI socket (Linux, `deviceId` = hciN) or a UART (H4) on a serial port. */
    hci: z
      .object({
        deviceId: z.number().int().min(0).max(15).optional(),
        uart: z
          .object({
            port: z.string().min(1),
            baudRate: z.number().int().positive().default(1_000_000),
            /**
             * After each read of the UART, wait this long before the next (the controller's bytes wait
             * in the tty buffer): fewer wake-ups per notification, at up to this much more latency
             * (docs/ble.md, read pacing). 0: read as soon as bytes arrive.
             */
            readPacing: duration.default(40).refine((ms) => ms <= 50, 'readPacing must be at most 50ms'),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
    devices: z.array(bleDeviceSchema).default([]),
    /** Simultaneous connections (the controller's limit; typical controllers hold 5-10). */
    maxConnections: z.number().int().min(1).max(64).default(7),
    /** With more registered devices in range than connections, a device keeps its slot at least this long before it rotates out. */
    dwell: duration.default(60_000),
    /** Reconnect delays double from `initial` up to `max` while a device keeps failing. */
    backoff: z
      .object({ initial: duration.default(1_000), max: duration.default(60_000) })
      .strict()
      .prefault({}),
    /** A connection attempt that has not completed in this time is cancelled (and counts as a failure). */
    connectTimeout: duration.default(10_000),
    /** `start` fails (not hangs) when the adapter is not powered on within this time. */
    startTimeout: duration.default(10_000),
    /** A glucose meter's report of its stored records (RACP) that has not ended in this time is given up (counted) and aborted. */
    racpTimeout: duration.default(30_000),
    /** RSSI status readings this often per connected device. */
    statusInterval: duration.default(30_000),
    /** Notifications a device may send per second (burst: twice that); more are dropped and counted. */
    maxNotificationsPerSecond: z.number().positive().default(100),
    /** Readings of this long are submitted together (fewer, larger commits; 0: one event-loop turn). */
    batchWindow: duration.default(20),
    /**
     * Stop consuming notifications (unsubscribe) while this many readings wait for the buffer. The
     * buffer holds a vital up to its commit delay and the fsync after it, so this must be well above
     * the ward's readings per second times that delay, or the adapter pauses under ordinary load
     * (docs/ble.md gives the figures).
     */
    maxHeldReadings: z.number().int().min(1).default(10_000),
    /** Example vendor decoders to register (see profiles/vendor-oximeter.ts). */
    vendorDecoders: z.array(z.enum(['vendor_oximeter'])).default([]),
  })
  .strict();

export type BleConfig = z.output<typeof bleConfigSchema>;
export type BleConfigInput = z.input<typeof bleConfigSchema>;
export type BleDeviceConfig = z.output<typeof bleDeviceSchema>;

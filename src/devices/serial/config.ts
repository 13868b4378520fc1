/**
 * devices.serial: one entry per port. Line settings default to the protocol's (reference
 * §2.1, §3.1, §5): IntelliVue 115200 8N1, S/5 19200 8E1 RTS/CTS, Masimo and Nonin 9600 8N1.
 */
import { z } from 'zod';
import { duration } from '../../config/fields.js';

export const SERIAL_PROTOCOLS = ['intellivue', 'ge-s5', 'masimo', 'nonin', 'line', 'medibus'] as const;
export type SerialProtocolName = (typeof SERIAL_PROTOCOLS)[number];

const idField = z.string().min(1).max(128);

/** The `line` protocol: `wg1` (reference §7, checksummed), `kv` (KEY=value tokens) or `delimited` (fields by position). */
const lineOptionsSchema = z
  .object({
    format: z.enum(['wg1', 'kv', 'delimited']).default('wg1'),
    /** Token separator for kv / delimited (default: ',' for delimited, whitespace or ',' for kv). */
    separator: z.string().min(1).max(4).optional(),
    /** kv: KEY -> metric; delimited: the field list by position (null = ignore that column). wg1 has a built-in table, extended by this. */
    fields: z
      .union([
        z.record(z.string().min(1).max(32), z.object({ metric: z.string().min(1), unit: z.string().optional(), scale: z.number().optional() }).strict()),
        z.array(z.union([z.null(), z.object({ metric: z.string().min(1), unit: z.string().optional(), scale: z.number().optional() }).strict()])),
      ])
      .optional(),
    maxLine: z.number().int().min(16).max(4096).default(256),
  })
  .strict();
export type LineOptions = z.infer<typeof lineOptionsSchema>;

const serialPortSchema = z
  .object({
    /** Prefer the stable /dev/serial/by-id/... name of the USB adapter. */
    path: z.string().min(1),
    protocol: z.enum(SERIAL_PROTOCOLS),
    bed: idField,
    /** The patient at this bed, when known (never logged). */
    patient: idField.optional(),
    /** Device id in readings (default: protocol and the port's file name). */
    deviceId: idField.optional(),
    baudRate: z.number().int().min(50).max(4_000_000).optional(),
    dataBits: z.union([z.literal(5), z.literal(6), z.literal(7), z.literal(8)]).optional(),
    parity: z.enum(['none', 'even', 'odd']).optional(),
    stopBits: z.union([z.literal(1), z.literal(2)]).optional(),
    rtscts: z.boolean().optional(),
    /** How often to poll where the protocol asks (IntelliVue 1 s, S/5 5 s by default). */
    pollInterval: duration.optional(),
    /** No valid frame for this long is a fault (default: a few poll intervals of the protocol). */
    silenceTimeout: duration.optional(),
    line: lineOptionsSchema.optional(),
    /** Nonin data format: 8 (4-byte frames, 1/s), 2 (OEM III default, 5-byte frames with checksum), or auto (recognised from the stream; the default). */
    nonin: z
      .object({ format: z.union([z.literal(2), z.literal(8), z.literal('auto')]).default('auto') })
      .strict()
      .optional(),
    /**
     * IntelliVue: pollPeriod is the NOM_ATTR_TIME_PD_POLL of each extended poll (reference §2.3), how long the monitor
     * keeps sending results for one request; 0 (the default, §2.8) polls once every pollInterval instead.
     */
    intellivue: z
      .object({ pollPeriod: duration.refine((v) => v === 0 || (v >= 1000 && v <= 86_400_000), '0, or from 1s to 24h').default(0) })
      .strict()
      .optional(),
    /** MEDIBUS realtime curves: device codes (00 airway pressure, 01 flow, 02 pleth, 06/07 CO2), each every `multiplier`-th sample, at most 4. */
    medibus: z
      .object({
        realtime: z
          .array(z.object({ code: z.enum(['00', '01', '02', '06', '07']), multiplier: z.number().int().min(1).max(255).default(1) }).strict())
          .max(4)
          .default([]),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((p) => p.protocol === 'medibus' || p.medibus === undefined, { message: '`medibus` options belong to protocol: medibus only', path: ['medibus'] })
  .refine((p) => p.protocol === 'intellivue' || p.intellivue === undefined, {
    message: '`intellivue` options belong to protocol: intellivue only',
    path: ['intellivue'],
  })
  .refine((p) => p.protocol === 'line' || p.line === undefined, { message: '`line` options belong to protocol: line only', path: ['line'] })
  .refine((p) => p.protocol === 'nonin' || p.nonin === undefined, { message: '`nonin` options belong to protocol: nonin only', path: ['nonin'] })
  .refine((p) => p.protocol !== 'line' || (p.line?.format ?? 'wg1') === 'wg1' || p.line?.fields !== undefined, {
    message: 'line formats kv and delimited need `fields`',
    path: ['line', 'fields'],
  });

export const serialConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    ports: z.array(serialPortSchema).default([]),
    retry: z
      .object({ initial: duration.default(1000), max: duration.default(30_000) })
      .strict()
      .prefault({}),
    /** Readings of one port waiting for the buffer before the port is paused (no more reads). */
    maxPendingReadings: z.number().int().min(1).max(100_000).default(2000),
  })
  .strict()
  .refine((c) => new Set(c.ports.map((p) => p.path)).size === c.ports.length, { message: 'each serial port path may appear once', path: ['ports'] });

export type SerialConfig = z.infer<typeof serialConfigSchema>;
export type SerialConfigInput = z.input<typeof serialConfigSchema>;
export type SerialPortConfig = z.infer<typeof serialPortSchema>;

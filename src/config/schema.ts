/**
 * The configuration schema: one YAML file, validated at start. Every field has a
 * default that suits a single ward gateway; wardgate.example.yaml documents them.
 */
import { z } from 'zod';
import { bleConfigSchema } from '../devices/ble/config.js';
import { mqttConfigSchema } from '../devices/mqtt/config.js';
import { serialConfigSchema } from '../devices/serial/config.js';
import { duration, size } from './fields.js';

/** host:port with a port from 1 to 65535. */
const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/, 'must be host:port')
  .refine((s) => {
    const port = Number(s.slice(s.lastIndexOf(':') + 1));
    return port >= 1 && port <= 65535;
  }, 'the port must be from 1 to 65535');

/** An address to listen on: an IPv4 or IPv6 address, or a host name (no port, no scheme). */
const listenHost = z
  .string()
  .regex(
    /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/,
    'must be an IP address or a host name of this machine (e.g. 127.0.0.1, 0.0.0.0, ::)',
  );

const topicsSchema = z
  .object({
    alarm: z.string().min(1).default('ward.alarms'),
    vital: z.string().min(1).default('ward.vitals'),
    status: z.string().min(1).default('ward.status'),
    waveform: z.string().min(1).default('ward.waveforms'),
  })
  .strict();

export const configSchema = z
  .object({
    gateway: z
      .object({
        /** Stable gateway id; when absent one is generated once and kept in the data folder. */
        id: z
          .string()
          .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (at most 64)')
          .optional(),
        dataDir: z.string().min(1).default('./wardgate-data'),
        /** Device clocks further than this from the gateway's are flagged device_clock_skew. */
        clockSkewTolerance: duration.default(120_000),
        /** Where the running gateway writes its status for `wardgate status` (default: in dataDir). */
        statusFile: z.string().optional(),
      })
      .strict()
      .prefault({}),
    buffer: z
      .object({
        /** AEAD key file (mode 0600). Env WARDGATE_KEY_FILE overrides. Default: <dataDir>/wardgate.key */
        keyFile: z.string().optional(),
        /**
         * Commit pacing per class: the longest a reading of that class waits for its commit (default vital 500ms, status 500ms, waveform 1s; alarms
         * at once); longer: fewer bytes written to an SD card, later acknowledgements (README, performance).
         */
        commitMaxDelay: z.object({ vital: duration.optional(), status: duration.optional(), waveform: duration.optional() }).strict().optional(),
        /**
         * Group commit: when set, appends of a class not in commitMaxDelay are written together at most this often (unset by default)...
         */
        commitInterval: duration.optional(),
        /** An append holding an alarm is committed after this wait instead (0: at once, with what is pending). */
        alarmCommitInterval: duration.default(0),
        /** ...or as soon as this many readings are pending, whichever comes first. */
        commitMaxReadings: z.number().int().min(1).max(100_000).default(4096),
        /** NORMAL: one fsync per checkpoint window; FULL: fsync on every commit (zero loss window). */
        synchronous: z.enum(['normal', 'full']).default('full'),
        /** When the buffer file is checked whole (quick_check): before the gateway is ready, or in the background after (docs/buffer.md, Integrity). */
        integrityCheck: z.enum(['at-open', 'background']).default('background'),
        cipher: z.enum(['aes-256-gcm', 'chacha20-poly1305']).default('aes-256-gcm'),
        maxBytes: size.default(2 * 1024 ** 3),
        maxAge: duration.default(7 * 86_400_000),
      })
      .strict()
      .prefault({}),
    kafka: z
      .object({
        brokers: z.array(hostPort).min(1).default(['127.0.0.1:9092']),
        clientId: z.string().min(1).default('wardgate'),
        /** Kafka client library: @platformatic/kafka (default) or kafkajs (see docs/security.md and the README's performance section). */
        client: z.enum(['kafkajs', 'platformatic']).default('platformatic'),
        topics: topicsSchema.prefault({}),
        /** Kafka message key: the device id (per-device order), or the patient id where present. */
        key: z.enum(['device', 'patient']).default('device'),
        /** Optional second output: HL7 FHIR R4 Observations, on their own topics (classes not listed are not sent as FHIR). */
        fhir: z
          .object({
            topics: z
              .object({
                alarm: z.string().min(1).optional(),
                vital: z.string().min(1).optional(),
                status: z.string().min(1).optional(),
                waveform: z.string().min(1).optional(),
              })
              .strict(),
            /** Identifier systems (URIs) for the original patient and device ids (docs/formats.md). */
            identifierSystems: z
              .object({
                patient: z
                  .string()
                  .regex(/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/, 'must be a URI')
                  .optional(),
                device: z
                  .string()
                  .regex(/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/, 'must be a URI')
                  .optional(),
              })
              .strict()
              .optional(),
          })
          .strict()
          .optional(),
        /** Optional output: HL7 v2.6 ORU^R01 per IHE PCD-01 (docs/formats.md), on its own topics (classes not listed are not sent as HL7 v2). */
        hl7v2: z
          .object({
            topics: z
              .object({
                alarm: z.string().min(1).optional(),
                vital: z.string().min(1).optional(),
                status: z.string().min(1).optional(),
                waveform: z.string().min(1).optional(),
              })
              .strict(),
            /** MSH-4 (default: the gateway id). */
            sendingFacility: z.string().min(1).max(227).optional(),
            receivingApplication: z.string().min(1).max(227).optional(),
            receivingFacility: z.string().min(1).max(227).optional(),
            /** PID-3.4: the authority that assigned the patient ids. */
            patientIdAuthority: z.string().min(1).max(227).optional(),
            /** PV1-3.1: the point of care (ward) before the bed. */
            pointOfCare: z.string().min(1).max(227).optional(),
          })
          .strict()
          .optional(),
        /**
         * The waveform topic's format: json-v1 (one message per reading) or batch (waveform samples of one device and metric per lease in one
         * message, docs/schemas/waveform-batch-v1.json).
         */
        waveformFormat: z.enum(['json-v1', 'batch']).default('json-v1'),
        /** Reading messages: json-v1, or avro-v1 (the same fields as Avro binary, docs/schemas/reading-v1.avsc) for a thin uplink. */
        format: z.enum(['json-v1', 'avro-v1']).default('json-v1'),
        /** Create missing topics at start when the cluster allows it; otherwise a clear error names the topic. */
        createTopics: z.boolean().default(true),
        topicPartitions: z.number().int().min(1).max(1000).default(3),
        topicReplicationFactor: z.number().int().min(1).max(10).default(1),
        batch: z
          .object({
            /** At most this many readings per batch (one buffer lease, one send). */
            maxReadings: z.number().int().min(1).max(100_000).default(2000),
            /** About this many message bytes (key + value + headers, before compression) per batch. */
            maxBytes: size.default(1024 ** 2),
            /** With less than a full batch waiting and nothing in flight, wait this long for more (0 = send at once). */
            linger: duration.default(0),
          })
          .strict()
          .prefault({}),
        /** Send alarms through their own producer and connection, so an alarm never waits behind a large batch. */
        alarmLane: z.boolean().default(true),
        /** Run the bulk lane's Kafka client in a worker thread (a second core encodes record batches). */
        clientThread: z.boolean().default(false),
        /** Optional cap on what leaves the gateway, for a thin uplink; alarms are never held back. */
        rateLimit: z
          .object({
            readingsPerSecond: z.number().positive().optional(),
            /** Message bytes per second (before compression), e.g. 256KiB. */
            bytesPerSecond: size.optional(),
          })
          .strict()
          .optional(),
        /** Consecutive failed sends before the state is offline (degraded before that). */
        offlineAfter: z.number().int().min(1).max(100).default(2),
        /** Batch compression: gzip (built in), lz4 or zstd (WebAssembly codecs, no native build); see bench/compression.ts. */
        compression: z.enum(['none', 'gzip', 'lz4', 'zstd']).default('none'),
        sendTimeout: duration.default(10_000),
        connectTimeout: duration.default(5_000),
        /**
         * `wardgate run` on SIGTERM/SIGINT: after the devices stop and the last readings commit, keep
         * sending for up to this long while Kafka is connected, so a stop strands nothing a reachable
         * Kafka could take (0 = stop at once; what is unsent stays buffered for the next start).
         */
        stopGrace: duration.default(5_000),
        /** With nothing to send for this long, ask the broker for metadata, so an idle gateway notices Kafka going away (0 = never). */
        idleProbe: duration.default(30_000),
        /** How often the forwarder asks which brokers the cluster lists; fewer than expected: degraded, `brokers: 2 of 3` (0 = never). */
        clusterCheck: duration.default(10_000),
        retry: z
          .object({ initial: duration.default(250), max: duration.default(30_000) })
          .strict()
          .prefault({}),
        /** TLS to the brokers; the broker certificate and its name are always verified. See docs/security.md. */
        tls: z
          .object({
            enabled: z.boolean().default(true),
            /** PEM CA bundle (default: Node's public CAs). */
            ca: z.string().min(1).optional(),
            /** PEM client certificate and key, both or neither (mutual TLS). */
            cert: z.string().min(1).optional(),
            key: z.string().min(1).optional(),
            /** Name the broker certificate must carry, when it differs from the host in `brokers`. */
            servername: z.string().min(1).optional(),
          })
          .strict()
          .refine((t) => !!t.cert === !!t.key, { message: 'cert and key go together (a client certificate needs both)' })
          .optional(),
        sasl: z
          .object({
            mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
            username: z.string().min(1),
            /** Prefer passwordFile or env WARDGATE_KAFKA_PASSWORD (which wins); never logged. */
            password: z.string().optional(),
            passwordFile: z.string().optional(),
            /** PLAIN sends the password as it is: refused without TLS unless this is set (a closed, trusted network only). */
            allowPlaintext: z.boolean().default(false),
          })
          .strict()
          .optional(),
      })
      .strict()
      .refine((k) => !(k.sasl?.mechanism === 'plain' && !k.sasl.allowPlaintext && !k.tls?.enabled), {
        message:
          'SASL PLAIN without TLS sends the Kafka password in clear: configure kafka.tls, use scram-sha-256/512, or set kafka.sasl.allowPlaintext: ' +
          'true (a closed, trusted network only)',
        path: ['sasl', 'mechanism'],
      })
      .prefault({}),
    devices: z
      .object({
        simulator: z
          .object({
            enabled: z.boolean().default(false),
            beds: z.number().int().min(1).max(500).default(10),
            interval: duration.default(1000),
            /** Probability per bed per second that an alarm condition starts. */
            alarmRate: z.number().min(0).max(1).default(0.005),
            seed: z.number().int().optional(),
          })
          .strict()
          .prefault({}),
        mqtt: mqttConfigSchema.optional(),
        /** BLE wearables (docs/ble.md): the controller, the allow-list (address / name / services -> bed) and the connection policy. */
        ble: bleConfigSchema.optional(),
        serial: serialConfigSchema.optional(),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({ port: z.number().int().min(1).max(65535).optional(), host: listenHost.default('127.0.0.1') })
      .strict()
      .prefault({}),
    /** Thresholds of the health states in /status and the wardgate_health_alert metric (docs/operations.md). */
    health: z
      .object({
        /** Kafka unreachable at least this long is an alert. */
        kafkaOffline: duration.default(300_000),
        /** An unsent reading older than this is an alert. */
        oldestUnsent: duration.default(900_000),
        /** Stored bytes at or above this fraction of buffer.maxBytes is an alert. */
        bufferNearCap: z.number().gt(0).max(1).default(0.8),
        /** A configured TLS certificate that ends within this long (or has ended, or cannot be read) is an alert. */
        certificateExpiry: duration.default(21 * 86_400_000),
      })
      .strict()
      .prefault({}),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info') })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

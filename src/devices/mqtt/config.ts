/**
 * Configuration of the MQTT device family: the embedded broker (listeners, users and ACLs,
 * limits, alarm echo), subscriptions to external brokers, and the topic rules that turn
 * messages into readings. docs/mqtt.md is the reference for every field.
 */
import { z } from 'zod';
import { isMetricId } from '../../catalogue.js';
import { duration, size } from '../../config/fields.js';
import { PRIORITY_CLASSES } from '../../reading.js';
import { compilePath, PathError } from './decoders/path.js';
import { compilePattern, compileTemplate, PatternError } from './pattern.js';
import { isValidTopicFilter } from './topics.js';

const port = z.number().int().min(0).max(65535);
const metricId = z.string().refine(isMetricId, { message: 'not a metric of the catalogue (see src/catalogue.ts)' });

/** A topic filter that may use {username} and {clientId}, substituted per client at login. */
const aclFilter = z.string().refine((f) => isValidTopicFilter(f.replace(/\{(username|clientId)\}/g, 'x')), {
  message: 'not a valid MQTT topic filter (placeholders: {username}, {clientId})',
});

const aclSchema = z
  .object({
    publish: z.array(aclFilter).default([]),
    subscribe: z.array(aclFilter).default([]),
  })
  .strict();

export const userSchema = z
  .object({
    username: z.string().min(1).max(128),
    /** scrypt$N$r$p$salt$hash, made by `hashPassword` (auth.ts). Absent: certificate login only. */
    passwordHash: z
      .string()
      .regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, 'must be scrypt$N$r$p$salt$hash')
      .optional(),
    publish: z.array(aclFilter).default([]),
    subscribe: z.array(aclFilter).default([]),
  })
  .strict();
export type UserConfig = z.infer<typeof userSchema>;

/** The credentials file (YAML): `users: [...]`, same fields as `embedded.auth.users`. */
export const usersFileSchema = z.object({ users: z.array(userSchema).default([]) }).strict();

const tcpListener = z.object({ host: z.string().default('0.0.0.0'), port: port.default(1883) }).strict();

const tlsListener = z
  .object({
    host: z.string().default('0.0.0.0'),
    port: port.default(8883),
    cert: z.string().min(1),
    key: z.string().min(1),
    /** CA bundle that client certificates must chain to. */
    ca: z.string().min(1).optional(),
    /** off: no client certificates; optional: verified when offered; required: handshake fails without one. */
    clientCertificates: z.enum(['off', 'optional', 'required']).default('off'),
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  })
  .strict()
  .refine((t) => t.clientCertificates === 'off' || t.ca !== undefined, { message: 'clientCertificates needs ca', path: ['ca'] });

const wsListener = z.object({ host: z.string().default('0.0.0.0'), port: port.default(8083), path: z.string().startsWith('/').default('/mqtt') }).strict();

const embeddedSchema = z
  .object({
    tcp: tcpListener.optional(),
    tls: tlsListener.optional(),
    ws: wsListener.optional(),
    auth: z
      .object({
        users: z.array(userSchema).default([]),
        /** YAML file with more users (keep it mode 0600); read at start. */
        usersFile: z.string().min(1).optional(),
        /** What clients without credentials may do; absent: they are refused. */
        anonymous: aclSchema.optional(),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        maxConnections: z.number().int().min(1).max(100_000).default(1000),
        /** Open connections per source address (IPv6: per /64), and new ones per second from one address. */
        maxConnectionsPerSource: z.number().int().min(1).max(100_000).default(250),
        connectionsPerSecondPerSource: z.number().positive().default(10),
        connectionBurstPerSource: z.number().int().min(1).default(250),
        /** Largest MQTT packet accepted (remaining length); bigger ones disconnect the client. */
        maxPacketBytes: size.default(64 * 1024),
        /** Bytes waiting in a subscriber's socket (it does not read what it is sent) above which it is disconnected. */
        subscriberBacklogBytes: size.default(1024 * 1024),
        /** Messages kept for one subscriber with a persistent session while it is away (or not acknowledging), and for all together in bytes. */
        queuedPerSubscriber: z.number().int().min(1).default(1000),
        queuedBytes: size.default(16 * 1024 * 1024),
        /** QoS 2 messages held between their PUBLISH and PUBREL, all clients together, in bytes (each counts 512 more); over it the client is disconnected. */
        inflightBytes: size.default(16 * 1024 * 1024),
        /** Topic filters one client may hold, the broker in all (persistent sessions' stored ones included), and a filter's length at most. */
        subscriptionsPerClient: z.number().int().min(1).default(100),
        subscriptions: z.number().int().min(1).default(5000),
        maxFilterLength: z.number().int().min(1).max(65_535).default(256),
        /** A persistent session whose client stays away longer than this is ended: its filters, queued and held messages go. */
        persistentSessionExpiry: duration.default(60 * 60_000),
        /** Persistent sessions kept while their client is away, at most: past it, the one away longest is ended. */
        awaySessions: z.number().int().min(1).default(10_000),
        /** Sustained PUBLISH rate per client (messages/s) and the burst allowed above it. */
        messagesPerSecond: z.number().positive().default(500),
        burst: z.number().int().min(1).default(2000),
        /** Seconds a client may take to send CONNECT. */
        connectTimeout: duration.default(10_000),
        /**
         * What unauthenticated peers may cost: password checks (scrypt, on their own thread) per
         * source address and in all, at once and per second; after a failed login its source
         * address and username wait (doubling from initial to max) before another check.
         */
        logins: z
          .object({
            perSource: z
              .object({
                concurrent: z.number().int().min(1).default(1),
                perSecond: z.number().positive().default(1),
                burst: z.number().int().min(1).default(3),
              })
              .strict()
              .prefault({}),
            global: z
              .object({
                concurrent: z.number().int().min(1).max(1000).default(4),
                perSecond: z.number().positive().default(8),
                burst: z.number().int().min(1).default(40),
              })
              .strict()
              .prefault({}),
            backoff: z
              .object({ initial: duration.default(1000), max: duration.default(60_000), forgetAfter: duration.default(15 * 60_000) })
              .strict()
              .prefault({}),
            /** Source addresses and usernames remembered at most (the oldest are forgotten first). */
            maxTracked: z.number().int().min(100).max(1_000_000).default(10_000),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    alarms: z
      .object({
        enabled: z.boolean().default(true),
        /** {bed} (a whole level) is replaced by the bed, with + # / replaced by _. Sensors may not publish here. */
        topic: z
          .string()
          .min(1)
          .refine((t) => t.split('/').every((l) => l === '{bed}' || (l.length > 0 && !/[{}+#\0]/.test(l))), {
            message: 'a topic of non-empty levels without + #; {bed} may stand for a whole level',
          })
          .default('wardgate/alarms/{bed}'),
        qos: z.union([z.literal(0), z.literal(1)]).default(1),
        retain: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((e) => e.tcp || e.tls || e.ws, { message: 'the embedded broker needs at least one listener (tcp, tls or ws)' });

const externalSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (at most 64)'),
    /** mqtt://, mqtts://, ws:// or wss:// */
    url: z.string().regex(/^(mqtts?|tcp|ssl|tls|wss?):\/\/[^\s]+$/, 'must be mqtt://host:port, mqtts://..., ws://... or wss://...'),
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(5),
    /** Stable client id: the broker keeps the session (and unacknowledged messages) under it. */
    clientId: z.string().min(1).max(128),
    username: z.string().min(1).optional(),
    /** Prefer passwordFile; never logged. */
    password: z.string().optional(),
    passwordFile: z.string().min(1).optional(),
    tls: z
      .object({
        ca: z.string().optional(),
        cert: z.string().optional(),
        key: z.string().optional(),
        rejectUnauthorized: z.boolean().default(true),
        servername: z.string().optional(),
      })
      .strict()
      .optional(),
    subscriptions: z.array(z.string().refine(isValidTopicFilter, 'not a valid MQTT topic filter')).min(1),
    qos: z.union([z.literal(0), z.literal(1)]).default(1),
    /** MQTT 5 session expiry: how long the broker keeps the session while the gateway is away. */
    sessionExpiry: duration.default(7 * 86_400_000),
    /** MQTT 5 receive maximum: QoS 1 messages the broker may have in flight to the gateway. */
    receiveMaximum: z.number().int().min(1).max(65535).default(1000),
    /**
     * Largest message accepted whole (remaining length): a bigger PUBLISH is never held in
     * memory, its payload is dropped as it arrives and it is acknowledged and counted
     * (publish-trimmer.ts). The embedded broker's limit has the same default.
     */
    maxPacketBytes: size.default(64 * 1024),
    keepalive: duration.default(30_000),
    connectTimeout: duration.default(10_000),
    reconnect: z
      .object({ initial: duration.default(1000), max: duration.default(60_000) })
      .strict()
      .prefault({}),
  })
  .strict();

const numberPath = z.string().min(1).max(256);

const jsonFieldSchema = z
  .object({
    /** Path to the value: a.b[0].c */
    value: numberPath,
    metric: metricId.optional(),
    unit: z.string().min(1).max(32).optional(),
    /** Path to the unit in the payload; `unit` is the fallback. */
    unitPath: numberPath.optional(),
    /** When true a missing value skips this field instead of rejecting the payload. */
    optional: z.boolean().default(false),
  })
  .strict();

const jsonDecoderSchema = z
  .object({
    type: z.literal('json'),
    fields: z.array(jsonFieldSchema).min(1).max(64),
    /** Path to the device time; auto: numbers >= 1e11 are ms, smaller ones s; strings ISO 8601. */
    time: numberPath.optional(),
    timeFormat: z.enum(['auto', 'ms', 's', 'iso']).default('auto'),
  })
  .strict();

const senmlDecoderSchema = z
  .object({
    type: z.literal('senml'),
    /** SenML name (resolved bn+n, or n alone) -> metric. Names equal to a metric id need no entry. */
    names: z.record(z.string(), metricId).default({}),
    /** Records whose name maps to no metric are skipped (true) or reject the pack (false). */
    ignoreUnknown: z.boolean().default(true),
  })
  .strict();

const textDecoderSchema = z.object({ type: z.literal('text') }).strict();

const BINARY_TYPES = [
  'uint8',
  'int8',
  'uint16be',
  'uint16le',
  'int16be',
  'int16le',
  'uint32be',
  'uint32le',
  'int32be',
  'int32le',
  'float32be',
  'float32le',
  'float64be',
  'float64le',
] as const;
export type BinaryType = (typeof BINARY_TYPES)[number];
export const BINARY_SIZE: Record<BinaryType | 'uint64be' | 'uint64le', number> = {
  uint8: 1,
  int8: 1,
  uint16be: 2,
  uint16le: 2,
  int16be: 2,
  int16le: 2,
  uint32be: 4,
  uint32le: 4,
  int32be: 4,
  int32le: 4,
  float32be: 4,
  float32le: 4,
  float64be: 8,
  float64le: 8,
  uint64be: 8,
  uint64le: 8,
};

const binaryFieldSchema = z
  .object({
    offset: z.number().int().min(0).max(65535),
    type: z.enum(BINARY_TYPES),
    metric: metricId.optional(),
    unit: z.string().min(1).max(32).optional(),
    /** value = raw * scale + add */
    scale: z.number().finite().default(1),
    add: z.number().finite().default(0),
    /** Raw value meaning "not available": the field is skipped. */
    invalid: z.number().optional(),
  })
  .strict();

const binaryDecoderSchema = z
  .object({
    type: z.literal('binary'),
    /** Exact payload length; when absent, any payload long enough for every field. */
    length: z.number().int().min(1).max(65535).optional(),
    fields: z.array(binaryFieldSchema).min(1).max(64),
    time: z
      .object({
        offset: z.number().int().min(0).max(65535),
        type: z.enum(['uint32be', 'uint32le', 'uint64be', 'uint64le', 'float64be', 'float64le']),
        unit: z.enum(['s', 'ms']).default('s'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((binary, ctx) => {
    if (binary.length === undefined) return;
    const check = (offset: number, type: keyof typeof BINARY_SIZE, path: (string | number)[]): void => {
      if (offset + BINARY_SIZE[type] > binary.length!)
        ctx.addIssue({ code: 'custom', path, message: `field at offset ${offset} (${type}) ends past length ${binary.length}` });
    };
    for (const [i, f] of binary.fields.entries()) check(f.offset, f.type, ['fields', i]);
    if (binary.time) check(binary.time.offset, binary.time.type, ['time']);
  });

export const decoderSchema = z.discriminatedUnion('type', [jsonDecoderSchema, senmlDecoderSchema, textDecoderSchema, binaryDecoderSchema]);
export type DecoderConfig = z.infer<typeof decoderSchema>;
export type JsonDecoderConfig = z.infer<typeof jsonDecoderSchema>;
export type SenmlDecoderConfig = z.infer<typeof senmlDecoderSchema>;
export type BinaryDecoderConfig = z.infer<typeof binaryDecoderSchema>;

const ruleSchema = z
  .object({
    /** Names the rule in counters and logs; default rule<index>. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .optional(),
    /** Which side the rule applies to. */
    source: z.enum(['any', 'embedded', 'external']).default('any'),
    /** Topic pattern: ward/{bed}/{device}/spo2, with + # {name} {name#}. */
    topic: z.string().min(1),
    deviceId: z.string().min(1).default('{device}'),
    bed: z.string().min(1).default('{bed}'),
    /** Metric for decoders that give none (text, or fields without one); may use captures: {metric}. */
    metric: z.string().min(1).optional(),
    /** Unit of the value when the payload gives none. */
    unit: z.string().min(1).max(32).optional(),
    /** The priority class of the readings (default: the metric's, vital for most). */
    class: z.enum(PRIORITY_CLASSES).optional(),
    /** Deprecated name of `class` (validateConfig warns); the same values. */
    priority: z.enum(PRIORITY_CLASSES).optional(),
    decoder: decoderSchema,
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.class !== undefined && r.priority !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['priority'], message: 'priority is the deprecated name of class: give class only' });
    }
    let names: readonly string[] = [];
    try {
      names = compilePattern(r.topic).names;
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: ['topic'], message: e instanceof PatternError ? e.message : String(e) });
      return;
    }
    for (const key of ['deviceId', 'bed', 'metric'] as const) {
      const src = r[key];
      if (src === undefined) continue;
      try {
        const t = compileTemplate(src);
        const missing = t.names.filter((n) => !names.includes(n));
        if (missing.length)
          ctx.addIssue({ code: 'custom', path: [key], message: `uses {${missing.join('}, {')}} which topic ${JSON.stringify(r.topic)} does not capture` });
        if (key === 'metric' && t.names.length === 0 && !isMetricId(src))
          ctx.addIssue({ code: 'custom', path: [key], message: 'not a metric of the catalogue (see src/catalogue.ts)' });
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: [key], message: e instanceof PatternError ? e.message : String(e) });
      }
    }
    if (r.decoder.type === 'json') {
      const jsonDecoder = r.decoder;
      const paths: [string, (string | number)[]][] = jsonDecoder.fields.flatMap((f, i) => [
        [f.value, ['decoder', 'fields', i, 'value']] as [string, (string | number)[]],
        ...(f.unitPath !== undefined ? [[f.unitPath, ['decoder', 'fields', i, 'unitPath']] as [string, (string | number)[]]] : []),
      ]);
      if (jsonDecoder.time !== undefined) paths.push([jsonDecoder.time, ['decoder', 'time']]);
      for (const [p, path] of paths) {
        try {
          compilePath(p);
        } catch (e) {
          ctx.addIssue({ code: 'custom', path, message: e instanceof PathError ? e.message : String(e) });
        }
      }
    }
    const fieldsWithoutMetric =
      r.decoder.type === 'text' || ((r.decoder.type === 'json' || r.decoder.type === 'binary') && r.decoder.fields.some((f) => f.metric === undefined));
    if (fieldsWithoutMetric && r.metric === undefined) {
      ctx.addIssue({ code: 'custom', path: ['metric'], message: `decoder ${r.decoder.type} gives no metric here: set metric on the rule or on every field` });
    }
  })
  .transform(({ priority, ...rule }) => (priority === undefined ? rule : { ...rule, class: priority }));
export type RuleConfig = z.infer<typeof ruleSchema>;

export const mqttConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Sensors connect to the gateway itself. Absent: no embedded broker. */
    embedded: embeddedSchema.optional(),
    /** Hospital brokers the gateway subscribes to. */
    external: z.array(externalSchema).default([]),
    /** First matching rule wins. Messages no rule matches are counted and acknowledged. */
    rules: z.array(ruleSchema).default([]),
    ack: z
      .object({
        /**
         * How long a QoS 1 message the buffer refuses is held unacknowledged while the gateway
         * retries; after that the client is disconnected so it resends later.
         */
        maxHold: duration.default(30_000),
        retryInitial: duration.default(100),
        retryMax: duration.default(5_000),
        /** At most this many readings per submission to the buffer. */
        maxBatch: z.number().int().min(1).max(100_000).default(4096),
        /**
         * Readings held in memory at most (decoded, waiting for their commit). At this bound (or
         * at maxPendingBytes) the gateway stops reading from every MQTT source (embedded
         * connections and external brokers) until half of them have committed: memory stays
         * bounded whatever is sent. The default fits the shipped 64 MiB heap (bin/wardgate.js).
         */
        maxPending: z.number().int().min(64).max(1_000_000).default(4096),
        /** The same bound for the payload bytes of the messages held. */
        maxPendingBytes: size.default(4 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = new Set<string>();
    c.rules.forEach((r, i) => {
      const n = r.name ?? `rule${i}`;
      if (names.has(n)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `rule name ${n} is used twice` });
      names.add(n);
    });
    const ext = new Set<string>();
    c.external.forEach((e, i) => {
      if (ext.has(e.name)) ctx.addIssue({ code: 'custom', path: ['external', i, 'name'], message: `external broker name ${e.name} is used twice` });
      ext.add(e.name);
      if (e.password !== undefined && e.passwordFile !== undefined)
        ctx.addIssue({ code: 'custom', path: ['external', i, 'password'], message: 'give password or passwordFile, not both' });
    });
    if (c.enabled && !c.embedded && c.external.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['enabled'], message: 'mqtt is enabled but has neither an embedded broker nor external brokers' });
    }
  });

export type MqttConfig = z.infer<typeof mqttConfigSchema>;
export type MqttConfigInput = z.input<typeof mqttConfigSchema>;
export type EmbeddedConfig = NonNullable<MqttConfig['embedded']>;
export type ExternalConfig = MqttConfig['external'][number];

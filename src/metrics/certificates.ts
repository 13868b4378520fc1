/**
 * The TLS certificate files the configuration names, and when they expire. A gateway runs for
 * years; its certificates (Kafka's mutual TLS, the embedded MQTT broker's server certificate)
 * often last one. An expired Kafka client certificate stops forwarding (the buffer fills until its
 * caps evict); an expired broker certificate makes the sensors' TLS handshakes fail, and their
 * readings never reach the gateway. So the gateway reads the files at start and every hour, and
 * the `certificate_expiry` health check (health.ts) turns to alert ahead of the end.
 *
 * What counts in a file: a certificate file's first certificate (the one presented; the rest is
 * its chain), and the earliest-ending certificate of a CA bundle (any of them may be the one a
 * peer chains to). A file that cannot be read or holds no certificate counts as expired.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Gauge } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';

export interface CertificateFile {
  /** What the file is for: kafka_client, kafka_ca, mqtt_server, mqtt_client_ca, mqtt_external_client:<name>, mqtt_external_ca:<name>. */
  use: string;
  file: string;
  /** A CA bundle (every certificate counts) rather than a certificate with its chain (the first counts). */
  ca: boolean;
}

export interface CertificateState extends CertificateFile {
  /** When the certificate that counts ends and begins (ms since the epoch); null when the file has none that can be read. */
  notAfter: number | null;
  notBefore: number | null;
  /** The subject of the certificate that counts (no patient data: a host or service name). */
  subject?: string;
  /** Why there is no certificate to count. */
  error?: string;
}

/** The certificate files of a configuration, in a fixed order. */
export function certificateFiles(c: Config): CertificateFile[] {
  const out: CertificateFile[] = [];
  const add = (use: string, file: string | undefined, ca: boolean): void => {
    if (file) out.push({ use, file, ca });
  };
  if (c.kafka.tls?.enabled) {
    add('kafka_client', c.kafka.tls.cert, false);
    add('kafka_ca', c.kafka.tls.ca, true);
  }
  const mqtt = c.devices.mqtt;
  if (mqtt?.enabled) {
    const tls = mqtt.embedded?.tls;
    add('mqtt_server', tls?.cert, false);
    add('mqtt_client_ca', tls?.ca, true);
    for (const e of mqtt.external) {
      add(`mqtt_external_client:${e.name}`, e.tls?.cert, false);
      add(`mqtt_external_ca:${e.name}`, e.tls?.ca, true);
    }
  }
  return out;
}

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Reads one file: the certificate that counts, or why there is none. */
export function readCertificateFile(f: CertificateFile): CertificateState {
  const none = (error: string): CertificateState => ({ ...f, notAfter: null, notBefore: null, error });
  let text: string;
  try {
    text = readFileSync(f.file, 'utf8');
  } catch (e) {
    return none(`cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const blocks = text.match(PEM) ?? [];
  if (blocks.length === 0) return none('no PEM certificate in it');
  let counted: X509Certificate | null = null;
  for (const b of f.ca ? blocks : blocks.slice(0, 1)) {
    let x: X509Certificate;
    try {
      x = new X509Certificate(b);
    } catch {
      return none('a certificate in it cannot be parsed');
    }
    if (!counted || Date.parse(x.validTo) < Date.parse(counted.validTo)) counted = x;
  }
  const x = counted!;
  return { ...f, notAfter: Date.parse(x.validTo), notBefore: Date.parse(x.validFrom), subject: x.subject.replaceAll('\n', ', ') };
}

/** Seconds from `now` to the end of the certificate that counts (negative once ended), or null when there is none. */
export function secondsLeft(s: CertificateState, now: number): number | null {
  return s.notAfter === null ? null : (s.notAfter - now) / 1000;
}

/** Why a certificate needs attention at `now` with `thresholdMs` of warning, or null when it does not. */
export function certificateProblem(s: CertificateState, now: number, thresholdMs: number): string | null {
  if (s.notAfter === null || s.notBefore === null) return `${s.use} ${s.file}: ${s.error ?? 'no certificate'}`;
  if (now < s.notBefore) return `${s.use} ${s.file}: not valid before ${new Date(s.notBefore).toISOString()}`;
  if (now >= s.notAfter) return `${s.use} ${s.file}: expired ${new Date(s.notAfter).toISOString()}`;
  if (s.notAfter - now < thresholdMs)
    return `${s.use} ${s.file}: expires ${new Date(s.notAfter).toISOString()}, in ${((s.notAfter - now) / 86_400_000).toFixed(1)} days`;
  return null;
}

export interface CertificateWatchOptions {
  log: Logger;
  /** wardgate_tls_certificate_not_after_seconds{use}. */
  gauge: Gauge<'use'>;
  /** Warn this long before a certificate ends (health.certificateExpiry). */
  thresholdMs: number;
  /** How often the files are read again (default an hour: a renewed certificate shows within it). */
  everyMs?: number;
}

/** Reads the files now and every `everyMs`: the gauge per use, and a warning per file that needs attention, each time. */
export class CertificateWatch {
  private last: CertificateState[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private files: readonly CertificateFile[],
    private readonly o: CertificateWatchOptions,
  ) {}

  /** The files after a reload (the MQTT settings are live): read at once, then on the same schedule. */
  setFiles(files: readonly CertificateFile[]): void {
    this.files = files;
    this.o.gauge.reset();
    this.stop();
    this.start();
  }

  get states(): readonly CertificateState[] {
    return this.last;
  }

  start(): void {
    this.read();
    if (this.files.length === 0) return;
    this.timer = setInterval(() => this.read(), this.o.everyMs ?? 3_600_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private read(): void {
    this.last = this.files.map(readCertificateFile);
    const now = Date.now();
    for (const s of this.last) {
      this.o.gauge.set({ use: s.use }, s.notAfter === null ? 0 : Math.floor(s.notAfter / 1000));
      const problem = certificateProblem(s, now, this.o.thresholdMs);
      if (problem)
        this.o.log.warn({ use: s.use, file: s.file, notAfter: s.notAfter === null ? null : new Date(s.notAfter).toISOString() }, `TLS certificate: ${problem}`);
    }
  }
}

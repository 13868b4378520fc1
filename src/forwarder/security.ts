/**
 * Security in transit for every Kafka client: TLS (CA bundle, optional client certificate and
 * key, server name check always on) and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).
 *
 * Files are read when a client connects, not when the gateway starts, so a missing or
 * unreadable file is a configuration error the forwarder reports (readings keep buffering)
 * and a fixed file is picked up on the next retry. Secrets never appear in errors or logs:
 * errors name the setting and the file, never its contents.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { checkPrivateFile } from '../secret-file.js';
import { KafkaClientError } from './client.js';

export interface TlsSettings {
  enabled: boolean;
  /** PEM CA bundle; without it Node's built-in public CAs are used. */
  ca?: string | undefined;
  /** PEM client certificate and key, for brokers that require mutual TLS. */
  cert?: string | undefined;
  key?: string | undefined;
  /** Name to check the broker certificate against (and send as SNI) instead of the host in `brokers`. */
  servername?: string | undefined;
}

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface SaslSettings {
  mechanism: SaslMechanism;
  username: string;
  password?: string | undefined;
  passwordFile?: string | undefined;
}

export interface SecuritySettings {
  tls?: TlsSettings | undefined;
  sasl?: SaslSettings | undefined;
}

/** What a client needs: Node TLS options (verification on) and SASL credentials. */
export interface ResolvedSecurity {
  tls?: ConnectionOptions & { rejectUnauthorized: true };
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
}

/** Env var that overrides the password file (also applied to `password` by the config loader). */
export const PASSWORD_ENV = 'WARDGATE_KAFKA_PASSWORD';

function readConfigFile(what: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new KafkaClientError('config', `cannot read ${what} ${file} (${code})`);
  }
}

/**
 * Reads the files named in the settings. Throws a KafkaClientError of kind `config` that
 * names the setting (never a secret) when something is missing or unreadable.
 */
export function resolveSecurity(s: SecuritySettings, env: NodeJS.ProcessEnv = process.env): ResolvedSecurity {
  const out: ResolvedSecurity = {};
  const t = s.tls;
  if (t?.enabled) {
    if (!!t.cert !== !!t.key) {
      throw new KafkaClientError('config', 'kafka.tls: a client certificate needs both cert and key');
    }
    out.tls = {
      // Both are Node's defaults; spelled out so nobody turns them off by accident.
      rejectUnauthorized: true,
      ...(t.ca ? { ca: readConfigFile('kafka.tls.ca', t.ca) } : {}),
      ...(t.cert ? { cert: readConfigFile('kafka.tls.cert', t.cert) } : {}),
      ...(t.key ? { key: readConfigFile('kafka.tls.key', t.key) } : {}),
      ...(t.servername ? { servername: t.servername } : {}),
    };
  }
  const a = s.sasl;
  if (a) {
    // Order: the environment, then the file, then the config value (which the config loader
    // already replaced with the environment's when set).
    let password = env[PASSWORD_ENV] || undefined;
    if (password === undefined && a.passwordFile) {
      // Like the key file: only the service user may read it (a config error the forwarder reports; readings keep buffering).
      checkPrivateFile(a.passwordFile, 'kafka.sasl.passwordFile', (m) => new KafkaClientError('config', m));
      password = readConfigFile('kafka.sasl.passwordFile', a.passwordFile).replace(/\r?\n$/, '');
    }
    password ??= a.password;
    if (!password) {
      throw new KafkaClientError('config', `kafka.sasl: no password (set kafka.sasl.passwordFile or ${PASSWORD_ENV})`);
    }
    out.sasl = { mechanism: a.mechanism, username: a.username, password };
  }
  return out;
}

/** Removes every occurrence of the secrets from a text (error messages from a client library). */
export function scrubSecrets(text: string, r: ResolvedSecurity | null): string {
  const pw = r?.sasl?.password;
  return pw && pw.length >= 1 ? text.split(pw).join('[redacted]') : text;
}

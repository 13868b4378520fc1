/** wardgate doctor: each check says what is wrong and what to do; exit 1 when one fails, 0 with warnings only. */
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { spawnCli, tempDir } from '../helpers/gateway.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function listen(): Promise<number> {
  const s = createServer((c) => c.destroy());
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  servers.push(s);
  return (s.address() as { port: number }).port;
}

async function doctor(cfg: string) {
  const c = spawnCli(['doctor', '-c', cfg, '--json']);
  const code = await c.exited;
  return { code, checks: code === 2 ? [] : (JSON.parse(c.stdout()) as { name: string; status: string; message: string; fix?: string }[]), err: c.stderr() };
}

describe('wardgate doctor', () => {
  it('healthy machine: a reachable broker, a free port, a private key; the unwrapped key beside the buffer is a warning, not a failure', async () => {
    const dir = tempDir();
    const data = join(dir, 'data');
    const key = join(dir, 'wardgate.key');
    generateKeyFile(key);
    const broker = await listen();
    const free = await listen();
    await new Promise((r) => servers.pop()!.close(r)); // a port known to be free now
    const cfg = join(dir, 'c.yaml');
    writeFileSync(
      cfg,
      `gateway:\n  dataDir: ${data}\nbuffer:\n  keyFile: ${key}\n  maxBytes: 1MiB\n` +
        `kafka:\n  brokers: ["127.0.0.1:${broker}"]\n  connectTimeout: 2s\nmetrics:\n  port: ${free}\n`,
    );
    const r = await doctor(cfg);
    expect(r.code, r.err).toBe(0);
    const by = (n: string) => r.checks.find((k) => k.name.startsWith(n))!;
    expect(by('kafka').status).toBe('ok');
    // The 'broker' is a TCP server that hangs up: the login as the gateway would make it cannot complete (a warning, not a refusal).
    expect(by('kafka login')).toMatchObject({ status: 'warn', fix: expect.stringContaining('Kafka brokers') });
    expect(by('disk space').status).toBe('ok');
    expect(by('secret files').status).toBe('ok');
    expect(by(`listen 127.0.0.1:${free}`).status).toBe('ok');
    // The temporary folder holds both: the key is on the buffer's device, unwrapped.
    expect(by('key placement')).toMatchObject({ status: 'warn', fix: expect.stringMatching(/wrap/) });
  }, 60_000);

  it('an unreachable broker, a group-readable key, a taken port, a missing serial port and a cap larger than the disk: each named with a fix, exit ' +
    '1', async () => {
    const dir = tempDir();
    const key = join(dir, 'wardgate.key');
    generateKeyFile(key);
    chmodSync(key, 0o640);
    const taken = await listen();
    const closed = await listen();
    await new Promise((r) => servers.pop()!.close(r)); // nothing listens there any more
    const cfg = join(dir, 'c.yaml');
    writeFileSync(
      cfg,
      `gateway:\n  dataDir: ${join(dir, 'data')}\nbuffer:\n  keyFile: ${key}\n  maxBytes: 1000TiB\nkafka:\n  brokers: ` +
        `["127.0.0.1:${closed}"]\nmetrics:\n  port: ${taken}\ndevices:\n  serial:\n    ports:\n      - path: ${join(dir, 'ttyUSB-none')}\n        ` +
        `protocol: masimo\n        bed: b1\n`,
    );
    const r = await doctor(cfg);
    expect(r.code, r.err).toBe(1);
    const by = (n: string) => r.checks.find((k) => k.name.startsWith(n));
    expect(by('kafka')).toMatchObject({ status: 'fail', message: expect.stringContaining('ECONNREFUSED'), fix: expect.any(String) });
    // No broker answers: no login attempted.
    expect(by('kafka login')).toBeUndefined();
    expect(by('secret files')).toMatchObject({ status: 'fail', fix: expect.stringContaining('chmod 0600') });
    expect(by(`listen 127.0.0.1:${taken}`)).toMatchObject({ status: 'fail', message: expect.stringContaining('EADDRINUSE') });
    expect(by('serial')).toMatchObject({ status: 'fail', message: 'not present' });
    expect(by('disk space')).toMatchObject({ status: 'warn' });
  }, 60_000);
});

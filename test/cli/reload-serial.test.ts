/**
 * SIGHUP with a changed serial port list (`wardgate run`, Kafka down, two simulated IntelliVue
 * monitors on socat ptys): a port added by the reload is opened and polled (its monitor starts
 * sending), a port removed stops being polled, per port. Observed from the monitors' side: what
 * each simulated monitor says it sent (its ground-truth file).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IntellivueSimulator } from '../../hardware-mocks/intellivue.js';
import { PtyPair } from '../../hardware-mocks/serial/pty.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { spawnCli, tempDir, waitFor } from '../helpers/gateway.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const sent = (file: string): number => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);

describe('SIGHUP reload of serial ports (wardgate run)', () => {
  it('an added port is polled after the reload, a removed one no longer', async () => {
    const dir = tempDir();
    const pairs = [new PtyPair(dir, 'm1'), new PtyPair(dir, 'm2')];
    const truth = [join(dir, 't1.jsonl'), join(dir, 't2.jsonl')];
    for (const p of pairs) {
      await p.plug();
      cleanup.push(() => p.unplug());
    }
    const sims = pairs.map((p, i) => new IntellivueSimulator({ port: p.device, truth: truth[i]!, seed: i + 1 }));
    for (const s of sims) {
      s.start();
      cleanup.push(() => s.stop());
    }
    const data = join(dir, 'data');
    const keyFile = join(dir, 'wardgate.key');
    generateKeyFile(keyFile);
    const cfg = join(dir, 'wardgate.yaml');
    const config = (ports: number[]) =>
      `gateway:\n  dataDir: ${data}\nbuffer:\n  keyFile: ${keyFile}\nkafka:\n  brokers: ["127.0.0.1:1"]\nlog:\n  level: info\n` +
      `devices:\n  serial:\n    enabled: true\n    ` +
      `ports:\n${ports.map((i) => `      - { path: ${pairs[i]!.host}, protocol: intellivue, bed: B${i + 1}, pollInterval: 200ms }\n`).join('')}`;
    writeFileSync(cfg, config([0]));
    const c = spawnCli(['run', '--config', cfg]);
    cleanup.push(() => c.proc.exitCode === null && c.proc.kill('SIGKILL'));
    await waitFor(() => sent(truth[0]!) >= 3 || c.proc.exitCode !== null, 40_000, 'monitor 1 polled');
    expect(c.proc.exitCode, c.stderr()).toBeNull();
    expect(sent(truth[1]!)).toBe(0);

    writeFileSync(cfg, config([0, 1]));
    c.proc.kill('SIGHUP');
    await waitFor(() => sent(truth[1]!) >= 3, 30_000, 'monitor 2 polled after the reload');
    const reconf = c
      .stderr()
      .split('\n')
      .find((l) => l.includes('serial ports reconfigured'));
    expect(reconf && JSON.parse(reconf)).toMatchObject({ stopped: 0, started: 1 });

    writeFileSync(cfg, config([1]));
    c.proc.kill('SIGHUP');
    await waitFor(() => c.stderr().split('serial ports reconfigured').length === 3, 20_000, 'the second reload');
    // Monitor 1 is no longer polled: once what was under way is done, it sends nothing more; monitor 2 goes on.
    const settle = sent(truth[1]!) + 3;
    await waitFor(() => sent(truth[1]!) >= settle, 20_000, 'monitor 2 still polled');
    const m1 = sent(truth[0]!);
    const until = sent(truth[1]!) + 5;
    await waitFor(() => sent(truth[1]!) >= until, 20_000, 'monitor 2 polled five more times');
    expect(sent(truth[0]!)).toBe(m1);

    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
  }, 120_000);
});

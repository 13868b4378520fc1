/** The audit log: a hash chain that names an edited, deleted or reordered line; what the gateway and the CLI put in it. */
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog, auditPath } from '../../src/audit/log.js';
import { auditEvents } from '../../src/audit/record.js';
import { verifyAuditFile } from '../../src/audit/verify.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { spawnCli, tempDir } from '../helpers/gateway.js';

function fiveRecords(): { file: string; lines: () => string[] } {
  const file = join(tempDir('wg-audit-'), 'audit.log');
  const a = new AuditLog(file);
  for (let i = 1; i <= 5; i++) a.append('test_event', { n: i });
  return { file, lines: () => readFileSync(file, 'utf8').split('\n').filter(Boolean) };
}

const events = (file: string): { event: string; detail: Record<string, unknown> }[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe('audit hash chain', () => {
  it('an untouched file verifies, its head is the last record written', () => {
    const { file, lines } = fiveRecords();
    const v = verifyAuditFile(file);
    expect(v).toMatchObject({ ok: true, records: 5, problems: [] });
    const last = JSON.parse(lines()[4]!);
    expect(v.head).toEqual({ seq: 5, hash: last.hash });
    expect(last.detail).toEqual({ n: 5 });
  });

  it('an edited line is named', () => {
    const { file, lines } = fiveRecords();
    const l = lines();
    l[2] = l[2]!.replace('"n":3', '"n":4');
    writeFileSync(file, `${l.join('\n')}\n`);
    const v = verifyAuditFile(file);
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([{ line: 3, why: expect.stringMatching(/edited/) }]);
  });

  it('a deleted line is named at the line after it', () => {
    const { file, lines } = fiveRecords();
    const l = lines();
    l.splice(1, 1);
    writeFileSync(file, `${l.join('\n')}\n`);
    const v = verifyAuditFile(file);
    expect(v.ok).toBe(false);
    expect(v.problems.map((p) => p.line)).toEqual([2, 2]);
    expect(v.problems.map((p) => p.why).join(' ')).toMatch(/deleted/);
  });

  it('two swapped lines are named', () => {
    const { file, lines } = fiveRecords();
    const l = lines();
    [l[1], l[2]] = [l[2]!, l[1]!];
    writeFileSync(file, `${l.join('\n')}\n`);
    const v = verifyAuditFile(file);
    expect(v.ok).toBe(false);
    expect(new Set(v.problems.map((p) => p.line))).toEqual(new Set([2, 3, 4]));
  });

  it('a line torn by a power cut is reported, then cut off and recorded by the next append', () => {
    const { file } = fiveRecords();
    const torn = '{"seq":6,"time":"2026-';
    appendFileSync(file, torn);
    expect(verifyAuditFile(file).problems).toEqual([{ line: 6, why: expect.stringMatching(/incomplete/) }]);
    new AuditLog(file).append('after_power_cut', {});
    expect(verifyAuditFile(file)).toMatchObject({ ok: true, records: 7 });
    const r = events(file);
    expect(r[5]).toMatchObject({ event: 'torn_tail', detail: { bytes: torn.length, sha256: createHash('sha256').update(torn).digest('hex') } });
    expect(r[6]!.event).toBe('after_power_cut');
  });

  it('two writers on one file keep one chain', () => {
    const file = join(tempDir('wg-audit-'), 'audit.log');
    const a = new AuditLog(file);
    const b = new AuditLog(file);
    for (let i = 0; i < 10; i++) (i % 2 ? a : b).append('w', { i });
    expect(verifyAuditFile(file)).toMatchObject({ ok: true, records: 10 });
  });

  it('security events are recorded as logged (rate-limited, with the count and the source), never secrets', () => {
    const file = join(tempDir('wg-audit-'), 'audit.log');
    let t = 0;
    const ev = new Events(silentLogger(), () => t);
    auditEvents(new AuditLog(file), ev, silentLogger());
    ev.emit('login_failed', { family: 'mqtt', reason: 'bad_credentials' }, 1, { source: '127.0.0.1:40000', username: 'bed7', password: 'hunter2' });
    ev.emit('login_failed', { family: 'mqtt', reason: 'bad_credentials' }, 1, { source: '127.0.0.1:40001', username: 'bed7' });
    t = 60_000;
    ev.emit('login_failed', { family: 'mqtt', reason: 'bad_credentials' }, 1, { source: '127.0.0.1:40002', username: 'bed7' });
    ev.emit('client_disconnected', { family: 'mqtt', reason: 'acl_publish' }, 1, { user: 'bed7' });
    ev.emit('client_disconnected', { family: 'mqtt', reason: 'packet_too_large' }, 1, {});
    ev.emit('unit_quarantined', { reason: 'auth_failed' }, 3);
    ev.emit('reading_evicted', { class: 'waveform', reason: 'byte_cap' }, 50, { units: 2 });
    ev.emit('frame_rejected', { family: 'serial', reason: 'crc' }, 1);
    ev.emit('unit_quarantined', { reason: 'database_corrupt' }, 1, { movedTo: 'buffer.db.corrupt-1' });
    const r = events(file);
    expect(r.map((x) => x.event)).toEqual(['login_failed', 'login_failed', 'client_disconnected', 'unit_quarantined', 'reading_evicted', 'salvage']);
    expect(r[5]!.detail).toMatchObject({ movedTo: 'buffer.db.corrupt-1' });
    expect(r[0]!.detail).toEqual({ family: 'mqtt', reason: 'bad_credentials', count: 1, source: '127.0.0.1:40000', username: 'bed7' });
    // The second failure was inside the log window: counted into the next record.
    expect(r[1]!.detail).toMatchObject({ count: 2, source: '127.0.0.1:40002' });
    expect(r[2]!.detail).toMatchObject({ reason: 'acl_publish', user: 'bed7' });
    expect(r[4]!.detail).toMatchObject({ class: 'waveform', count: 50, units: 2 });
    expect(readFileSync(file, 'utf8')).not.toContain('hunter2');
    expect(verifyAuditFile(file).ok).toBe(true);
  });
});

describe('wardgate audit (CLI)', () => {
  async function cli(args: string[]) {
    const c = spawnCli(args);
    const code = await c.exited;
    return { code, out: c.stdout(), err: c.stderr() };
  }

  it('a simulated run and a key rotation are recorded; audit verify passes, then names an edited line (exit 1)', async () => {
    const dir = tempDir();
    const sim = await cli(['simulate', '--beds', '2', '--duration', '1s', '--drain-timeout', '200ms', '--brokers', '127.0.0.1:1', '--data', dir, '--no-live']);
    expect(sim.code, sim.err).toBe(0);
    expect((await cli(['keygen', '--data', dir, '--rotate'])).code).toBe(0);
    const file = auditPath(dir);
    const names = events(file).map((x) => x.event);
    expect(names.slice(0, 3)).toEqual(['start', 'config_loaded', 'key_created']);
    expect(names).toContain('stop');
    expect(names.at(-1)).toBe('key_rotated');
    expect(events(file).at(-1)!.detail).toMatchObject({ activeKeyId: 2 });
    const ok = await cli(['audit', 'verify', '--data', dir]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(new RegExp(`${names.length} records, chain intact`));
    const l = readFileSync(file, 'utf8').split('\n');
    l[1] = l[1]!.replace(/"sha256":"[0-9a-f]{4}/, '"sha256":"0000');
    writeFileSync(file, l.join('\n'));
    const bad = await cli(['audit', 'verify', '--data', dir]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/chain BROKEN/);
    expect(bad.out).toMatch(/line 2: hash does not match the record \(the line was edited\)/);
  }, 60_000);

  it('retiring a key is recorded', async () => {
    const dir = tempDir();
    const key = join(dir, 'wardgate.key');
    expect((await cli(['keygen', '--key-file', key, '--data', dir])).code).toBe(0);
    expect((await cli(['keygen', '--key-file', key, '--data', dir, '--rotate'])).code).toBe(0);
    const rm = await cli(['keygen', '--key-file', key, '--data', dir, '--remove', '1']);
    expect(rm.code, rm.err).toBe(0);
    expect(events(auditPath(dir)).map((x) => x.event)).toEqual(['key_created', 'key_rotated', 'key_retired']);
    expect(events(auditPath(dir))[2]!.detail).toMatchObject({ keyId: 1, keysLeft: [2] });
    expect(verifyAuditFile(auditPath(dir)).ok).toBe(true);
  }, 60_000);
});

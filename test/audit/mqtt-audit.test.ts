/** A real MQTT login failure and ACL denial on the embedded broker end up in the audit log, with the source and user. */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/log.js';
import { auditEvents } from '../../src/audit/record.js';
import { verifyAuditFile } from '../../src/audit/verify.js';
import { hashPassword } from '../../src/devices/mqtt/auth.js';
import { silentLogger } from '../../src/logger.js';
import { tempDir } from '../helpers/gateway.js';
import { waitFor } from '../mqtt/helpers/context.js';
import { Cleanup, connectSensor, startAdapter } from '../mqtt/helpers/gateway.js';
import { SENSOR_RULES } from '../mqtt/helpers/rules.js';
import { RecordingSink } from '../mqtt/helpers/sink.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('audit of MQTT security events', () => {
  it('a publish outside the ACL and a wrong password are recorded with source and user, never the password', async () => {
    const users = [{ username: 'ox-12', passwordHash: await hashPassword('pw12', { N: 1024, r: 8, p: 1 }), publish: ['ward/12/{clientId}/#'] }];
    const { url, ctx } = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { users } },
      rules: SENSOR_RULES,
    });
    const file = join(tempDir('wg-audit-mqtt-'), 'audit.log');
    cleanup.add(auditEvents(new AuditLog(file), ctx.events, silentLogger()));
    const records = (): { event: string; detail: Record<string, unknown> }[] => {
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        return []; // nothing recorded yet
      }
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    };

    // The ACL denial first: after a failed login the broker backs off that source for a while.
    const bad = await connectSensor(cleanup, {
      url,
      clientId: 'ox3',
      username: 'ox-12',
      password: 'pw12',
      bed: '13',
      device: 'ox3',
      format: 'text',
      reconnectPeriod: 0,
    });
    void bad.publishReading().catch(() => undefined);
    await waitFor(() => records().some((r) => r.event === 'client_disconnected' && r.detail.reason === 'acl_publish'), 'the ACL denial in the audit log');
    expect(records().find((r) => r.detail.reason === 'acl_publish')!.detail).toMatchObject({ user: 'ox-12' });
    const wrong = connect(url, { clientId: 'ox2', username: 'ox-12', password: 'not-the-password', reconnectPeriod: 0 });
    cleanup.add(() => wrong.end(true));
    await new Promise<void>((r) => {
      wrong.once('error', () => r());
      wrong.once('close', () => r());
    });
    await waitFor(() => records().some((r) => r.event === 'login_failed'), 'the login failure in the audit log');
    const login = records().find((r) => r.event === 'login_failed')!;
    expect(login.detail).toMatchObject({ family: 'mqtt', username: 'ox-12' });
    expect(String(login.detail.source)).toMatch(/127\.0\.0\.1/);

    expect(readFileSync(file, 'utf8')).not.toContain('not-the-password');
    expect(verifyAuditFile(file).ok).toBe(true);
  }, 60_000);
});

/**
 * A sensor that logged in with the right password gets in again while password checks are not
 * available (the login limiter has no budget left: a flood took it, or the password thread is
 * starved on a saturated CPU), without a new check; a wrong password for the same user, and a
 * user never seen, still wait for the limiter (CONNACK 3, counted), so the remembered login gives
 * an attacker nothing. The limiter's budget is one check in all, set by the test.
 */

import { connect } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/devices/mqtt/auth.js';
import { Cleanup, startAdapter } from './helpers/gateway.js';
import { SENSOR_RULES } from './helpers/rules.js';
import { RecordingSink } from './helpers/sink.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const FAST = { N: 1024, r: 8, p: 1 };

/** CONNACK return code of one login (0: accepted). */
function login(url: string, clientId: string, username: string, password: string): Promise<number> {
  const c = connect(url, { clientId, username, password, reconnectPeriod: 0, connectTimeout: 10_000, protocolVersion: 4 });
  cleanup.add(() => c.end(true));
  return new Promise((resolve) => {
    c.once('connect', () => {
      resolve(0);
      c.end(true);
    });
    c.once('error', (e) => resolve((e as { code?: number }).code ?? -1));
  });
}

describe('a sensor that logged in before gets in without a password check', () => {
  it('with no check budget left: the remembered sensor is accepted, a wrong password and a new user are refused (server unavailable)', async () => {
    const users = [
      { username: 'ox-1', passwordHash: await hashPassword('pw-one', FAST), publish: ['ward/#'] },
      { username: 'ox-2', passwordHash: await hashPassword('pw-two', FAST), publish: ['ward/#'] },
    ];
    const budget = { concurrent: 1, perSecond: 0.0001, burst: 1 };
    const { url, ctx } = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { users }, limits: { logins: { perSource: budget, global: budget } } },
      rules: SENSOR_RULES,
    });
    expect(await login(url, 'a', 'ox-1', 'pw-one')).toBe(0); // the only check the limiter allows
    // The budget is spent: every login that needs a check is refused from now on.
    expect(await login(url, 'b', 'ox-2', 'pw-two')).toBe(3);
    expect(await login(url, 'c', 'ox-1', 'wrong')).toBe(3);
    // The sensor that passed its check comes back (three times): accepted each time.
    for (const id of ['d', 'e', 'f']) expect(await login(url, id, 'ox-1', 'pw-one')).toBe(0);
    const refused = await ctx.events.count('login_failed');
    expect(refused).toBe(2);
  });

  it('a changed password hash (users reloaded) is checked again: the remembered login does not outlive it', async () => {
    const { Authenticator } = await import('../../src/devices/mqtt/auth.js');
    const before = [{ username: 'ox-1', passwordHash: await hashPassword('pw-one', FAST), publish: ['ward/#'] }];
    const budget = { concurrent: 1, perSecond: 0.0001, burst: 1 };
    const g = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { users: before }, limits: { logins: { perSource: budget, global: budget } } },
      rules: SENSOR_RULES,
    });
    expect(await login(g.url, 'a', 'ox-1', 'pw-one')).toBe(0);
    // Same password, new hash (a new salt): the old remembered check must not apply.
    const after = [{ username: 'ox-1', passwordHash: await hashPassword('pw-one', FAST), publish: ['ward/#'], subscribe: [] }];
    const broker = (g.adapter as unknown as { embedded: { setAuthenticator(a: unknown): number } }).embedded;
    broker.setAuthenticator(new Authenticator(after as never));
    expect(await login(g.url, 'b', 'ox-1', 'pw-one')).toBe(3);
    // Refused by the limiter (no budget), not by an error.
    expect(await g.ctx.events.count('login_failed')).toBe(1);
    expect(await g.ctx.events.count('login_failed', { reason: 'auth_error' })).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { Authenticator, hashPassword, parseHash, verifyPassword } from '../../src/devices/mqtt/auth.js';
import { userSchema } from '../../src/devices/mqtt/config.js';

const FAST = { N: 1024, r: 8, p: 1 };

describe('password hashes', () => {
  it('verifies the right password and refuses others', async () => {
    const h = await hashPassword('correct horse', FAST);
    expect(h).toMatch(/^scrypt\$1024\$8\$1\$/);
    expect(await verifyPassword('correct horse', h)).toBe(true);
    expect(await verifyPassword(Buffer.from('correct horse'), h)).toBe(true);
    expect(await verifyPassword('correct hors', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
  });

  it('salts: the same password hashes differently each time', async () => {
    const [a, b] = await Promise.all([hashPassword('pw', FAST), hashPassword('pw', FAST)]);
    expect(a).not.toBe(b);
  });

  it('uses N=16384, r=8, p=1 by default', async () => {
    const h = await hashPassword('pw');
    expect(parseHash(h)).toMatchObject({ N: 16384, r: 8, p: 1 });
  });

  it.each([
    'scrypt$1000$8$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5', // N not a power of two
    'scrypt$4194304$8$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5', // N too large
    'scrypt$1048576$32$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5', // 4 GiB of memory
    'scrypt$1024$8$1$c2Fs$a2V5a2V5a2V5a2V5a2V5a2V5', // salt too short
    'bcrypt$10$abc',
  ])('refuses a malformed or hostile hash %j', async (h) => {
    expect(parseHash(h)).toBeNull();
    expect(await verifyPassword('x', h)).toBe(false);
  });
});

describe('authenticator and ACLs', () => {
  const setup = async () => {
    const users = [
      userSchema.parse({
        username: 'ox-12',
        passwordHash: await hashPassword('s3cret', FAST),
        publish: ['ward/12/{clientId}/#'],
        subscribe: ['wardgate/alarms/12'],
      }),
      userSchema.parse({ username: 'display', passwordHash: await hashPassword('d1sp', FAST), subscribe: ['wardgate/alarms/+'] }),
      userSchema.parse({ username: 'pump-7', publish: ['icu/{username}/#'] }), // certificate only
    ];
    return new Authenticator(users, { publish: ['public/{clientId}'], subscribe: [] });
  };

  it('logs in with a password and applies the user ACL with placeholders filled', async () => {
    const a = await setup();
    const id = await a.authenticate({ clientId: 'oxA', username: 'ox-12', password: Buffer.from('s3cret') });
    expect(typeof id).toBe('object');
    if (typeof id !== 'object') return;
    expect(id).toMatchObject({ user: 'ox-12', via: 'password' });
    expect(id.acl.canPublish('ward/12/oxA/spo2'.split('/'))).toBe(true);
    expect(id.acl.canPublish('ward/12/oxB/spo2'.split('/'))).toBe(false);
    expect(id.acl.canPublish('ward/13/oxA/spo2'.split('/'))).toBe(false);
    expect(id.acl.canSubscribe('wardgate/alarms/12')).toBe(true);
    expect(id.acl.canSubscribe('wardgate/alarms/+')).toBe(false);
    expect(id.acl.canSubscribe('#')).toBe(false);
  });

  it('refuses a wrong password, an unknown user and a user without a password hash', async () => {
    const a = await setup();
    expect(await a.authenticate({ clientId: 'x', username: 'ox-12', password: Buffer.from('nope') })).toBe('bad_credentials');
    expect(await a.authenticate({ clientId: 'x', username: 'ghost', password: Buffer.from('s3cret') })).toBe('bad_credentials');
    expect(await a.authenticate({ clientId: 'x', username: 'pump-7', password: Buffer.from('') })).toBe('bad_credentials');
  });

  it('refuses a client id that would widen an ACL through a placeholder', async () => {
    const a = await setup();
    for (const clientId of ['#', '+', 'a/b']) {
      expect(await a.authenticate({ clientId, username: 'ox-12', password: Buffer.from('s3cret') })).toBe('bad_client_id');
    }
  });

  it('logs in by verified certificate CN', async () => {
    const a = await setup();
    const id = await a.authenticate({ clientId: 'p', certificateCN: 'pump-7' });
    expect(typeof id === 'object' && id.via).toBe('certificate');
    if (typeof id !== 'object') return;
    expect(id.acl.canPublish('icu/pump-7/rate'.split('/'))).toBe(true);
    expect(id.acl.canPublish('icu/pump-8/rate'.split('/'))).toBe(false);
    expect(await a.authenticate({ clientId: 'p', certificateCN: 'stranger' })).toBe('not_authorized');
  });

  it('gives anonymous clients the anonymous ACL, or refuses them when there is none', async () => {
    const a = await setup();
    const id = await a.authenticate({ clientId: 'anon1' });
    expect(typeof id === 'object' && id.acl.canPublish(['public', 'anon1'])).toBe(true);
    expect(typeof id === 'object' && id.acl.canPublish(['public', 'anon2'])).toBe(false);
    expect(await new Authenticator([]).authenticate({ clientId: 'anon1' })).toBe('not_authorized');
  });
});

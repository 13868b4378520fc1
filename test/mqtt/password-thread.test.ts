/** Password checks on their own thread: correct answers, lowest CPU priority, no libuv pool. */

import { createHook } from 'node:async_hooks';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/devices/mqtt/auth.js';
import { PasswordThread } from '../../src/devices/mqtt/password-thread.js';

const FAST = { N: 1024, r: 8, p: 1 };

/** Nice values of this process's threads (Linux: /proc/self/task/TID/stat, field 19). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const st = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('password thread', () => {
  it('verifies the right password, refuses wrong ones and malformed hashes, off the thread pool', async () => {
    const h = await hashPassword('correct horse', FAST);
    let poolScrypts = 0;
    const hook = createHook({ init: (_id, type) => void (type === 'SCRYPTREQUEST' && poolScrypts++) }).enable();
    const t = new PasswordThread();
    try {
      expect(await t.verify(Buffer.from('correct horse'), h)).toBe(true);
      expect(await t.verify('correct horse', h)).toBe(true);
      expect(await t.verify(Buffer.from('correct hors'), h)).toBe(false);
      expect(await t.verify(Buffer.alloc(0), h)).toBe(false);
      expect(await t.verify(Buffer.from('x'), 'scrypt$1000$8$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5')).toBe(false);
      const many = await Promise.all(Array.from({ length: 8 }, (_, i) => t.verify(Buffer.from(i % 2 ? 'correct horse' : 'nope'), h)));
      expect(many).toEqual([false, true, false, true, false, true, false, true]);
      expect(t.checks).toBe(12);
    } finally {
      hook.disable();
      await t.close();
    }
    expect(poolScrypts).toBe(0);
  });

  it('runs at the lowest CPU priority (nice 19) while the rest of the process does not', async () => {
    const before = threadNices();
    const t = new PasswordThread();
    try {
      await t.verify('x', await hashPassword('x', FAST));
      const after = threadNices();
      expect(after.filter((n) => n === 19).length).toBe(before.filter((n) => n === 19).length + 1);
      expect(after.filter((n) => n === 19).length).toBeLessThan(after.length);
    } finally {
      await t.close();
    }
  });

  it('fails the checks still waiting when it is closed, and refuses new ones', async () => {
    const t = new PasswordThread();
    const h = await hashPassword('x', { N: 65536, r: 8, p: 1 });
    const pending = expect(t.verify('x', h)).rejects.toThrow(/stopped/);
    await t.close();
    await pending;
    await expect(t.verify('x', h)).rejects.toThrow(/stopped/);
  });
});

/** PendingCount: one promise shared by every waiter, settled by the `done` that brings the count to 0. */
import { expect, it } from 'vitest';
import { PendingCount } from '../../src/pending-count.js';

it('settles every waiter when the last item is done, not before', async () => {
  const c = new PendingCount();
  expect(c.whenZero()).toBeUndefined();
  c.add(2);
  const settled: string[] = [];
  const a = c.whenZero()!.then(() => settled.push('a'));
  const b = c.whenZero()!.then(() => settled.push('b'));
  c.done();
  await Promise.resolve();
  expect(settled).toEqual([]);
  c.done();
  await Promise.all([a, b]);
  expect(settled).toEqual(['a', 'b']);
  // A new round gets a new promise.
  c.add();
  const again = c.whenZero()!;
  let done = false;
  void again.then(() => (done = true));
  await Promise.resolve();
  expect(done).toBe(false);
  c.done();
  await again;
  expect(done).toBe(true);
});

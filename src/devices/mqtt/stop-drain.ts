/**
 * A stop while messages flow (systemd, a configuration change): the messages a connection has
 * already taken have their commits running and their acknowledgements waiting for them. Closing
 * at once leaves them unacknowledged, and the sender (a sensor, or the hospital's broker) sends
 * them all again after the restart. So both MQTT sides stop taking QoS 1/2 messages (a message
 * that is not taken is never acknowledged, and the sender sends it again), then wait here until
 * the acknowledgements of what they took are written, and only then close their connections.
 */
import { steadyNow } from '../../steady-clock.js';

/** The longest a stop waits for the acknowledgements of the messages already taken. */
export const STOP_DRAIN_MS = 2000;

/**
 * Calls `next()` until it returns undefined (nothing left to wait for), awaiting each promise it
 * returns, for at most STOP_DRAIN_MS; gives up at once when `giveUp()` is true (the buffer
 * refuses, so nothing would commit, or the connection is gone). What is left is sent again.
 */
export async function drainBeforeStop(next: () => Promise<unknown> | undefined, giveUp: () => boolean): Promise<void> {
  const deadline = steadyNow() + STOP_DRAIN_MS;
  let timer: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      const left = deadline - steadyNow();
      if (left <= 0 || giveUp()) return;
      const wait = next();
      if (wait === undefined) return;
      await Promise.race([wait, new Promise<void>((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
  } finally {
    clearTimeout(timer);
  }
}

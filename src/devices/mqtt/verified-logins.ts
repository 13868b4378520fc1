/**
 * Credentials that passed a password check in this process, so that a sensor logging in again
 * (after a network blip, a broker restart, its own reboot) gets in without another scrypt check
 * and without waiting for the login limiter: under a login flood, or with the password thread
 * starved on a saturated CPU, a known sensor with the right password must still get in.
 *
 * Kept in memory only, per user: the user's password hash as it was checked, and an HMAC of the
 * password under a random key made at start (never the password). A login matches only with the
 * same hash (a changed or removed user never matches) and the same password (constant-time
 * comparison); anything else, a wrong guess included, goes the ordinary way: limiter, backoff,
 * scrypt. A guess therefore costs an attacker exactly what it cost before. At most one entry per
 * configured user, so the memory is bounded by the users file.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export class VerifiedLogins {
  private readonly key = randomBytes(32);
  private readonly byUser = new Map<string, { encoded: string; mac: Buffer }>();

  private mac(password: Buffer | Uint8Array): Buffer {
    return createHmac('sha256', this.key).update(password).digest();
  }

  /** True when `username` logged in with this password under this very hash before. */
  matches(username: string, password: Buffer | Uint8Array, encoded: string): boolean {
    const e = this.byUser.get(username);
    if (!e || e.encoded !== encoded) return false;
    return timingSafeEqual(e.mac, this.mac(password));
  }

  /** After a successful check. */
  remember(username: string, password: Buffer | Uint8Array, encoded: string): void {
    this.byUser.set(username, { encoded, mac: this.mac(password) });
  }

  get size(): number {
    return this.byUser.size;
  }
}
